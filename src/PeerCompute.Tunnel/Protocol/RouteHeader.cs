using System.Buffers;
using System.Text;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>What the provider answers after reading a route header, before any payload byte.</summary>
internal enum RouteStatus : byte
{
    /// <summary>Spliced to the container: the bytes that follow are the container's.</summary>
    Connected = 0,
    UnknownRoute = 1,
    /// <summary>The route exists but its container did not accept a connection.</summary>
    UpstreamUnavailable = 2,
}

/// <summary>
/// The header the gateway writes first on every stream it opens: <c>version u8 (1) | length u8 | label</c>,
/// where label is the hostname label <c>name-tag</c>. The provider answers one <see cref="RouteStatus"/> byte.
/// </summary>
internal static class RouteHeader
{
    public const byte Version = 1;
    public const int MaxSize = 2 + TunnelHostname.MaxLabelLength;

    public static byte[] Encode(string label)
    {
        int length = Encoding.ASCII.GetByteCount(label);
        if (length > TunnelHostname.MaxLabelLength)
            throw new ArgumentException("label too long", nameof(label));
        var header = new byte[2 + length];
        header[0] = Version;
        header[1] = (byte)length;
        Encoding.ASCII.GetBytes(label, header.AsSpan(2));
        return header;
    }

    /// <summary>
    /// Parses a route header; InvalidData for a wrong version, a too long or a malformed label, as soon as the bytes
    /// that show it are in. NeedMoreData consumes nothing; <see cref="SizeOf"/> tells how many bytes to wait for.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, out string label, out int consumed)
    {
        label = "";
        consumed = 0;
        if (input.Length < 2)
            return input.Length == 1 && input[0] != Version ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
        if (input[0] != Version || input[1] == 0 || input[1] > TunnelHostname.MaxLabelLength)
            return OperationStatus.InvalidData;
        int length = input[1];
        if (input.Length < 2 + length)
            return OperationStatus.NeedMoreData;
        var bytes = input.Slice(2, length);
        foreach (byte b in bytes)
            if (!(b is >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'-'))
                return OperationStatus.InvalidData;
        label = Encoding.ASCII.GetString(bytes);
        consumed = 2 + length;
        return OperationStatus.Done;
    }

    /// <summary>The size of the header that <paramref name="input"/> begins, as far as its bytes tell (2 until the length is in).</summary>
    public static int SizeOf(ReadOnlySpan<byte> input) => input.Length < 2 ? 2 : 2 + input[1];
}

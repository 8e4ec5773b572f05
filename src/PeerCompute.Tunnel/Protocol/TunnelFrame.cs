using System.Buffers;
using System.Buffers.Binary;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>Message types of the tunnel handshake (before yamux) and of the control stream (inside yamux).</summary>
internal enum TunnelMessageType : byte
{
    ClientHello = 0x01,
    Challenge = 0x02,
    Auth = 0x03,
    Welcome = 0x04,
    Refused = 0x05,
    SetRoutes = 0x10,
    RoutesResult = 0x11,
    QueryDomains = 0x12,
    DomainStates = 0x13,
}

/// <summary>
/// One tunnel message on the wire: <c>type u8 | length u16 big-endian | payload</c>. Pure functions over bytes;
/// the reader says "need more" instead of blocking, and bounds the length before anything is buffered.
/// </summary>
internal static class TunnelFrame
{
    public const int HeaderSize = 3;
    public const int MaxPayload = ushort.MaxValue;

    /// <summary>
    /// Parses one frame at the start of <paramref name="input"/>: the one parser of tunnel messages, for the stream
    /// reads (<see cref="TunnelMessageIO"/>) and the fuzz target alike. <see cref="OperationStatus.NeedMoreData"/>
    /// when it is incomplete (nothing consumed; <see cref="SizeOf"/> tells how many bytes to wait for),
    /// <see cref="OperationStatus.InvalidData"/> as soon as the header announces more than <paramref name="maxPayload"/>.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, int maxPayload, out TunnelMessageType type, out ReadOnlySpan<byte> payload, out int consumed)
    {
        type = default;
        payload = default;
        consumed = 0;
        if (input.Length < HeaderSize)
            return OperationStatus.NeedMoreData;
        int length = PayloadLength(input);
        if (length > maxPayload)
            return OperationStatus.InvalidData;
        if (input.Length < HeaderSize + length)
            return OperationStatus.NeedMoreData;
        type = (TunnelMessageType)input[0];
        payload = input.Slice(HeaderSize, length);
        consumed = HeaderSize + length;
        return OperationStatus.Done;
    }

    /// <summary>
    /// The size of the frame that <paramref name="input"/> begins, as far as its bytes tell: the header size until the
    /// header is in, then header and payload. A stream reader asks for exactly this many bytes, never for the next layer's.
    /// </summary>
    public static int SizeOf(ReadOnlySpan<byte> input) => input.Length < HeaderSize ? HeaderSize : HeaderSize + PayloadLength(input);

    private static int PayloadLength(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt16BigEndian(header[1..]);

    public static byte[] Encode(TunnelMessageType type, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
            throw new ArgumentException($"a tunnel message carries at most {MaxPayload} bytes", nameof(payload));
        var frame = new byte[HeaderSize + payload.Length];
        frame[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), (ushort)payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }
}

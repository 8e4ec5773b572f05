using System.Buffers;
using System.Text;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Multistream;

/// <summary>
/// A multistream-select 1.0 message: <c>uvarint(len) UTF-8 text '\n'</c>, the length counting the newline.
/// Pure encode/parse over spans.
/// </summary>
internal static class MultistreamMessage
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public const string Header = "/multistream/1.0.0";
    public const string NotAvailable = "na";
    public const string List = "ls";

    /// <summary>Largest message (text and newline) accepted or sent, as js-libp2p enforces.</summary>
    public const int MaxLength = 1024;

    public static int GetEncodedLength(string text)
    {
        int length = Encoding.UTF8.GetByteCount(text) + 1;
        return Varint.GetLength((ulong)length) + length;
    }

    public static int Write(Span<byte> destination, string text)
    {
        int length = Encoding.UTF8.GetByteCount(text) + 1;
        if (length > MaxLength)
            throw new ArgumentException($"A multistream message holds at most {MaxLength - 1} bytes of text.", nameof(text));
        int n = Varint.Write(destination, (ulong)length);
        n += Encoding.UTF8.GetBytes(text, destination[n..]);
        destination[n++] = (byte)'\n';
        return n;
    }

    public static byte[] Encode(params ReadOnlySpan<string> messages)
    {
        int total = 0;
        foreach (var m in messages)
            total += GetEncodedLength(m);
        var bytes = new byte[total];
        int offset = 0;
        foreach (var m in messages)
            offset += Write(bytes.AsSpan(offset), m);
        return bytes;
    }

    /// <summary>The answer to <c>ls</c>: one message holding <c>uvarint(len) id '\n'</c> per protocol, then <c>'\n'</c>.</summary>
    public static byte[] EncodeList(IEnumerable<string> protocols)
    {
        var inner = new ArrayBufferWriter<byte>();
        foreach (var p in protocols)
        {
            var span = inner.GetSpan(GetEncodedLength(p));
            inner.Advance(Write(span, p));
        }
        int length = inner.WrittenCount + 1;
        var bytes = new byte[Varint.GetLength((ulong)length) + length];
        int n = Varint.Write(bytes, (ulong)length);
        inner.WrittenSpan.CopyTo(bytes.AsSpan(n));
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    /// <summary>
    /// Reads one message: <see cref="OperationStatus.Done"/> with the text and the bytes it took,
    /// <see cref="OperationStatus.NeedMoreData"/> when <paramref name="input"/> ends inside it (nothing consumed), or
    /// <see cref="OperationStatus.InvalidData"/> for an empty, oversized or newline-less message or bad UTF-8.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, out string text, out int consumed) =>
        Read(input, out text, out consumed, out _);

    /// <summary>Like <see cref="TryRead"/>, but throws <see cref="Libp2pProtocolException"/> (with the reason) instead of returning InvalidData.</summary>
    public static OperationStatus TryParse(ReadOnlySpan<byte> source, out string text, out int consumed)
    {
        var status = Read(source, out text, out consumed, out string? error);
        return status == OperationStatus.InvalidData ? throw new Libp2pProtocolException(error!) : status;
    }

    /// <summary>After <see cref="OperationStatus.NeedMoreData"/>: how many more bytes the message needs at least (1 while its length prefix is incomplete).</summary>
    internal static int MissingBytes(ReadOnlySpan<byte> input) =>
        Varint.TryRead(input, out ulong length, out int prefix) == OperationStatus.Done ? prefix + (int)length - input.Length : 1;

    private static OperationStatus Read(ReadOnlySpan<byte> input, out string text, out int consumed, out string? error)
    {
        text = "";
        consumed = 0;
        error = null;
        var status = Varint.TryRead(input, out ulong length, out int prefix);
        // Two bytes of prefix hold any length up to the limit: a third is over it, whatever follows.
        if (status == OperationStatus.NeedMoreData && input.Length >= 2)
            return Invalid($"multistream: message is over the {MaxLength}-byte limit", out error);
        if (status == OperationStatus.NeedMoreData)
            return status;
        if (status != OperationStatus.Done)
            return Invalid("multistream: bad length prefix", out error);
        if (length == 0)
            return Invalid("multistream: empty message", out error);
        if (length > MaxLength)
            return Invalid($"multistream: message of {length} bytes is over the {MaxLength}-byte limit", out error);
        if ((ulong)(input.Length - prefix) < length)
            return OperationStatus.NeedMoreData;
        var body = input.Slice(prefix, (int)length);
        if (body[^1] != (byte)'\n')
            return Invalid("multistream: message does not end with a newline", out error);
        try
        {
            text = StrictUtf8.GetString(body[..^1]);
        }
        catch (DecoderFallbackException)
        {
            return Invalid("multistream: message is not UTF-8", out error);
        }
        consumed = prefix + (int)length;
        return OperationStatus.Done;
    }

    private static OperationStatus Invalid(string reason, out string? error)
    {
        error = reason;
        return OperationStatus.InvalidData;
    }
}

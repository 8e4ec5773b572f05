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
    /// Parses one message. <see cref="OperationStatus.NeedMoreData"/> when <paramref name="source"/> ends inside it;
    /// throws <see cref="Libp2pProtocolException"/> for an empty, oversized or newline-less message or bad UTF-8.
    /// </summary>
    public static OperationStatus TryParse(ReadOnlySpan<byte> source, out string text, out int consumed)
    {
        text = "";
        consumed = 0;
        var status = Varint.TryRead(source, out ulong length, out int prefix);
        if (status == OperationStatus.NeedMoreData)
            return status;
        if (status != OperationStatus.Done)
            throw new Libp2pProtocolException("multistream: bad length prefix");
        ValidateLength(length);
        if ((ulong)(source.Length - prefix) < length)
            return OperationStatus.NeedMoreData;
        text = DecodeBody(source.Slice(prefix, (int)length));
        consumed = prefix + (int)length;
        return OperationStatus.Done;
    }

    internal static void ValidateLength(ulong length)
    {
        if (length == 0)
            throw new Libp2pProtocolException("multistream: empty message");
        if (length > MaxLength)
            throw new Libp2pProtocolException($"multistream: message of {length} bytes is over the {MaxLength}-byte limit");
    }

    internal static string DecodeBody(ReadOnlySpan<byte> body)
    {
        if (body[^1] != (byte)'\n')
            throw new Libp2pProtocolException("multistream: message does not end with a newline");
        try
        {
            return StrictUtf8.GetString(body[..^1]);
        }
        catch (DecoderFallbackException)
        {
            throw new Libp2pProtocolException("multistream: message is not UTF-8");
        }
    }
}

using System.Buffers;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Relay;

/// <summary>
/// The framing of the circuit relay and DCUtR messages: <c>uvarint(length) ‖ body</c>. Reading stops exactly at the
/// end of the body, because on a relay stream the relayed bytes follow the last message at once.
/// </summary>
public static class DelimitedMessage
{
    /// <summary>
    /// Reads one framed message from <paramref name="input"/>: <see cref="OperationStatus.Done"/> with the body (a slice
    /// of the input) and the bytes it took; <see cref="OperationStatus.NeedMoreData"/> when the input ends inside the
    /// prefix or the body (nothing consumed); <see cref="OperationStatus.InvalidData"/> for a malformed prefix or a
    /// length over <paramref name="maxLength"/>, decided from the prefix alone, before the body arrives.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, int maxLength, out ReadOnlySpan<byte> body, out int consumed)
    {
        body = default;
        consumed = 0;
        var status = ReadPrefix(input, maxLength, out int length, out int prefix);
        if (status != OperationStatus.Done)
            return status;
        if (input.Length - prefix < length)
            return OperationStatus.NeedMoreData;
        body = input.Slice(prefix, length);
        consumed = prefix + length;
        return OperationStatus.Done;
    }

    /// <summary>Writes <c>uvarint(length) ‖ body</c> in one write.</summary>
    public static async Task WriteAsync(Stream stream, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var framed = new byte[Varint.GetLength((ulong)body.Length) + body.Length];
        int n = Varint.Write(framed, (ulong)body.Length);
        body.Span.CopyTo(framed.AsSpan(n));
        await stream.WriteAsync(framed, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads exactly one framed message and returns its body, never reading a byte past it (the prefix one byte at a
    /// time, then exactly the body). Throws <see cref="Libp2pProtocolException"/> for a malformed prefix, a length over
    /// <paramref name="maxLength"/> (before reading the body), or a stream that ends first.
    /// </summary>
    public static async Task<byte[]> ReadAsync(Stream stream, int maxLength, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var prefix = new byte[Varint.MaxLength];
        int have = 0;
        int length;
        while (true)
        {
            await ReadExactlyAsync(stream, prefix.AsMemory(have, 1), ct).ConfigureAwait(false);
            have++;
            var status = ReadPrefix(prefix.AsSpan(0, have), maxLength, out length, out _);
            if (status == OperationStatus.Done)
                break;
            if (status == OperationStatus.InvalidData)
                throw new Libp2pProtocolException(Varint.TryRead(prefix.AsSpan(0, have), out _, out _) == OperationStatus.InvalidData
                    ? "length-prefixed message: bad length prefix"
                    : $"length-prefixed message: over {maxLength} bytes");
        }
        var body = new byte[length];
        await ReadExactlyAsync(stream, body, ct).ConfigureAwait(false);
        return body;
    }

    /// <summary>The prefix alone: Done with a length within the limit, NeedMoreData, or InvalidData (malformed or too long).</summary>
    private static OperationStatus ReadPrefix(ReadOnlySpan<byte> input, int maxLength, out int length, out int prefix)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        length = 0;
        var status = Varint.TryRead(input, out ulong value, out prefix);
        if (status == OperationStatus.NeedMoreData)
        {
            // As many bytes as the limit takes, all with the continuation bit: the length is already over the limit.
            return input.Length >= Varint.GetLength((ulong)maxLength) ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
        }
        if (status != OperationStatus.Done || value > (ulong)maxLength)
            return OperationStatus.InvalidData;
        length = (int)value;
        return OperationStatus.Done;
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw new Libp2pProtocolException("length-prefixed message: the stream ended before the message");
        }
    }
}

using System.Buffers;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;

namespace PeerCompute.Net.Protocols;

/// <summary><c>/ipfs/id/1.0.0</c>: the responder writes one uvarint-prefixed <see cref="IdentifyMessage"/> and half-closes; the opener only reads.</summary>
internal static class IdentifyProtocol
{
    public const string ProtocolId = "/ipfs/id/1.0.0";

    public static async Task WriteAsync(YamuxStream stream, IdentifyMessage message, CancellationToken cancellationToken)
    {
        var body = message.Encode();
        if (body.Length > IdentifyMessage.MaxSize)
            throw new InvalidOperationException($"identify: our message of {body.Length} bytes is over {IdentifyMessage.MaxSize}");
        var framed = new byte[Varint.GetLength((ulong)body.Length) + body.Length];
        int n = Varint.Write(framed, (ulong)body.Length);
        body.CopyTo(framed.AsSpan(n));
        await stream.WriteAsync(framed, cancellationToken).ConfigureAwait(false);
        await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads one framed message (<c>uvarint(len) protobuf</c>): <see cref="OperationStatus.Done"/> with the message and
    /// the bytes it took, <see cref="OperationStatus.NeedMoreData"/> when <paramref name="input"/> ends inside it,
    /// <see cref="OperationStatus.InvalidData"/> when it is over <see cref="IdentifyMessage.MaxSize"/> or malformed.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, out IdentifyMessage? message, out int consumed)
    {
        try
        {
            return Read(input, out message, out consumed);
        }
        catch (Libp2pProtocolException)
        {
            message = null;
            consumed = 0;
            return OperationStatus.InvalidData;
        }
    }

    /// <summary>Like <see cref="TryRead"/>, but throws <see cref="Libp2pProtocolException"/> (with the reason) instead of returning InvalidData.</summary>
    internal static OperationStatus Read(ReadOnlySpan<byte> input, out IdentifyMessage? message, out int consumed)
    {
        message = null;
        consumed = 0;
        var status = Varint.TryRead(input, out ulong length, out int prefix);
        // Two bytes of prefix hold any length up to the limit: a third is over it.
        if (status == OperationStatus.NeedMoreData && input.Length >= 2)
            throw new Libp2pProtocolException($"identify: message is over {IdentifyMessage.MaxSize} bytes");
        if (status == OperationStatus.NeedMoreData)
            return status;
        if (status != OperationStatus.Done)
            throw new Libp2pProtocolException("identify: bad length prefix");
        if (length > IdentifyMessage.MaxSize)
            throw new Libp2pProtocolException($"identify: message of {length} bytes is over {IdentifyMessage.MaxSize}");
        if ((ulong)(input.Length - prefix) < length)
            return OperationStatus.NeedMoreData;
        message = IdentifyMessage.Decode(input.Slice(prefix, (int)length));
        consumed = prefix + (int)length;
        return OperationStatus.Done;
    }

    public static async Task<IdentifyMessage> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(IdentifyMessage.MaxSize + 2);
        try
        {
            int have = 0;
            while (true)
            {
                if (Read(buffer.AsSpan(0, have), out var message, out _) == OperationStatus.Done)
                    return message!;
                // Exactly what the message still needs: one byte while the length prefix is open, then the rest.
                int want = Varint.TryRead(buffer.AsSpan(0, have), out ulong length, out int prefix) == OperationStatus.Done
                    ? prefix + (int)length - have
                    : 1;
                await ReadExactlyAsync(stream, buffer.AsMemory(have, want), cancellationToken).ConfigureAwait(false);
                have += want;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw new Libp2pProtocolException("identify: the stream ended before the message did");
        }
    }
}

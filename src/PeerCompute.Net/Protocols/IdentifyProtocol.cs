using System.Buffers;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Yamux;

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

    public static async Task<IdentifyMessage> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(IdentifyMessage.MaxSize);
        try
        {
            ulong length = 0;
            for (int i = 0; ; i++)
            {
                if (i == 2)
                    throw new Libp2pProtocolException($"identify: message is over {IdentifyMessage.MaxSize} bytes");
                await ReadExactlyAsync(stream, buffer.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
                length |= (ulong)(buffer[0] & 0x7F) << (7 * i);
                if ((buffer[0] & 0x80) == 0)
                    break;
            }
            if (length > IdentifyMessage.MaxSize)
                throw new Libp2pProtocolException($"identify: message of {length} bytes is over {IdentifyMessage.MaxSize}");
            await ReadExactlyAsync(stream, buffer.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
            return IdentifyMessage.Decode(buffer.AsSpan(0, (int)length));
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

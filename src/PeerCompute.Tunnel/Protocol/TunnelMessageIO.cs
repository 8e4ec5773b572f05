using System.Buffers;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>
/// Reads and writes whole <see cref="TunnelFrame"/>s on a stream. The reads are thin loops around the pure parsers
/// (<see cref="TunnelFrame.TryRead"/>, <see cref="RouteHeader.TryRead"/>): each asks the stream for exactly the bytes
/// the parser still needs, so whatever follows on the stream (yamux, spliced bytes) is left for the next layer, and a
/// length over the limit is refused before its payload is read.
/// </summary>
internal static class TunnelMessageIO
{
    public static async ValueTask<(TunnelMessageType Type, byte[] Payload)> ReadAsync(Stream stream, int maxPayload, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(TunnelFrame.HeaderSize);
        int filled = 0;
        try
        {
            while (true)
            {
                var status = Parse(buffer.AsSpan(0, filled), maxPayload, out var type, out byte[] payload, out int needed);
                if (status == OperationStatus.Done)
                    return (type, payload);
                if (status == OperationStatus.InvalidData)
                    throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: a message of {needed - TunnelFrame.HeaderSize} bytes exceeds the limit of {maxPayload}");
                if (needed > buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(needed);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                await ReadExactAsync(stream, buffer.AsMemory(filled, needed - filled), cancellationToken).ConfigureAwait(false);
                filled = needed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>One step of <see cref="ReadAsync"/>: the parser's verdict, the payload when Done, and the frame's size so far known.</summary>
    private static OperationStatus Parse(ReadOnlySpan<byte> input, int maxPayload, out TunnelMessageType type, out byte[] payload, out int frameSize)
    {
        var status = TunnelFrame.TryRead(input, maxPayload, out type, out var body, out _);
        payload = status == OperationStatus.Done && !body.IsEmpty ? body.ToArray() : [];
        frameSize = TunnelFrame.SizeOf(input);
        return status;
    }

    /// <summary>Reads a message and checks its type; a Refused message becomes a <see cref="TunnelErrorKind.Refused"/> error.</summary>
    public static async ValueTask<byte[]> ReadExpectedAsync(Stream stream, TunnelMessageType expected, int maxPayload, CancellationToken cancellationToken)
    {
        var (type, payload) = await ReadAsync(stream, maxPayload, cancellationToken).ConfigureAwait(false);
        if (type == expected)
            return payload;
        if (type == TunnelMessageType.Refused && Refused.TryParse(payload, out var refused))
            throw new TunnelException(TunnelErrorKind.Refused, $"the gateway refused this provider ({refused.Code}): {refused.Reason}");
        throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: expected {expected}, got message type {(byte)type}");
    }

    public static async ValueTask ReadExactAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new TunnelException(TunnelErrorKind.Network, "tunnel: the peer closed the connection during the handshake", e);
        }
    }

    public static async ValueTask WriteAsync(Stream stream, byte[] frame, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a route header (at most <see cref="RouteHeader.MaxSize"/> bytes) without reading past it.</summary>
    public static async ValueTask<string> ReadRouteHeaderAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[RouteHeader.MaxSize];
        int filled = 0;
        while (true)
        {
            var status = RouteHeader.TryRead(buffer.AsSpan(0, filled), out string label, out _);
            if (status == OperationStatus.Done)
                return label;
            if (status == OperationStatus.InvalidData)
                throw new TunnelException(TunnelErrorKind.Protocol, "tunnel: malformed route header");
            int needed = RouteHeader.SizeOf(buffer.AsSpan(0, filled));
            await ReadExactAsync(stream, buffer.AsMemory(filled, needed - filled), cancellationToken).ConfigureAwait(false);
            filled = needed;
        }
    }
}

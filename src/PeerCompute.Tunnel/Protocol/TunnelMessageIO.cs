using System.Buffers;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>
/// Reads and writes whole <see cref="TunnelFrame"/>s on a stream. Reads exactly one frame's bytes (header, then
/// payload) so whatever follows on the stream (yamux, spliced bytes) is left for the next layer.
/// </summary>
internal static class TunnelMessageIO
{
    public static async ValueTask<(TunnelMessageType Type, byte[] Payload)> ReadAsync(Stream stream, int maxPayload, CancellationToken cancellationToken)
    {
        byte[] header = new byte[TunnelFrame.HeaderSize];
        await ReadExactAsync(stream, header, cancellationToken).ConfigureAwait(false);
        if (!TunnelFrame.TryReadHeader(header, maxPayload, out var type, out int length))
            throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: a message of {length} bytes exceeds the limit of {maxPayload}");
        byte[] payload = length == 0 ? [] : new byte[length];
        await ReadExactAsync(stream, payload, cancellationToken).ConfigureAwait(false);
        return (type, payload);
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

    /// <summary>Reads a route header byte by byte-group (it is at most 65 bytes) without reading past it.</summary>
    public static async ValueTask<string> ReadRouteHeaderAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[RouteHeader.MaxSize];
        await ReadExactAsync(stream, buffer.AsMemory(0, 2), cancellationToken).ConfigureAwait(false);
        int needed = 2 + buffer[1];
        if (buffer[0] == RouteHeader.Version && buffer[1] > 0 && needed <= buffer.Length)
            await ReadExactAsync(stream, buffer.AsMemory(2, needed - 2), cancellationToken).ConfigureAwait(false);
        return RouteHeader.TryRead(buffer.AsSpan(0, Math.Min(needed, buffer.Length)), out string label, out _) == OperationStatus.Done
            ? label
            : throw new TunnelException(TunnelErrorKind.Protocol, "tunnel: malformed route header");
    }
}

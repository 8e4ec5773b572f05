using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// Serves one stream the gateway opened: reads its route header, answers with a <see cref="RouteStatus"/> byte
/// (unknown route, container not answering, or connected) and splices the stream to the container's port. Only
/// labels of this provider's tag and of a route it asked for are served, whatever the gateway sends.
/// </summary>
internal sealed class RouteForwarder(
    string tag,
    Func<IReadOnlyList<string>> routes,
    Func<string, CancellationToken, ValueTask<IPEndPoint?>> resolveRoute,
    TunnelClientOptions options,
    ILogger logger)
{
    /// <summary>Serves <paramref name="stream"/> until both directions are done; never throws, always disposes it.</summary>
    public async Task ForwardAsync(YamuxStream stream, CancellationToken cancellationToken)
    {
        Socket? upstream = null;
        try
        {
            string label;
            using (var headerTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                headerTimeout.CancelAfter(options.RouteHeaderTimeout);
                label = await TunnelMessageIO.ReadRouteHeaderAsync(stream, headerTimeout.Token).ConfigureAwait(false);
            }
            IPEndPoint? target = null;
            if (TunnelHostname.TryParseLabel(label, out string name, out string labelTag) && labelTag == tag && routes().Contains(name))
                target = await resolveRoute(name, cancellationToken).ConfigureAwait(false);
            if (target is null)
            {
                await AnswerAsync(stream, RouteStatus.UnknownRoute, cancellationToken).ConfigureAwait(false);
                await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            upstream = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                connectTimeout.CancelAfter(options.UpstreamConnectTimeout);
                await upstream.ConnectAsync(target, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("route {Name}: the container at {Target} does not accept connections ({Reason}): does it listen on the port it was deployed with?", name, target, e is SocketException s ? s.SocketErrorCode.ToString() : "timeout");
                await AnswerAsync(stream, RouteStatus.UpstreamUnavailable, cancellationToken).ConfigureAwait(false);
                await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            await AnswerAsync(stream, RouteStatus.Connected, cancellationToken).ConfigureAwait(false);
            var end = await StreamSplice.RunAsync(stream, upstream, options.SpliceBufferSize, cancellationToken).ConfigureAwait(false);
            if (end == SpliceEnd.ContainerClosedWithoutAnswer)
                logger.LogWarning("route {Name}: the container at {Target} closed the connection without answering: does it listen on the port it was deployed with?", name, target);
            else if (end == SpliceEnd.GatewayGaveUp)
                logger.LogInformation("route {Name}: the gateway gave up before the container answered (the visitor left, or the container was too slow)", name);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or TunnelException or ObjectDisposedException or InvalidOperationException)
        {
            stream.Reset();
        }
        finally
        {
            upstream?.Dispose();
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static ValueTask AnswerAsync(YamuxStream stream, RouteStatus status, CancellationToken cancellationToken) =>
        stream.WriteAsync(new[] { (byte)status }, cancellationToken);
}

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
/// The gateway keeps a stream open across requests (its keep-alive pool), so a splice can outlive the deployment it
/// was opened for: <see cref="RevalidateAsync"/> cuts every splice whose route is gone or now answers elsewhere, so a
/// pooled connection never carries a request to a stopped container or to the one that replaced it.
/// </summary>
internal sealed class RouteForwarder(
    string tag,
    Func<IReadOnlyList<string>> routes,
    Func<string, CancellationToken, ValueTask<IPEndPoint?>> resolveRoute,
    TunnelClientOptions options,
    ILogger logger)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Splice, byte> _splices = new();

    /// <summary>Splices running now (each is one gateway connection held open to a container).</summary>
    public int ActiveSplices => _splices.Count;

    private sealed class Splice(string name, IPEndPoint target, CancellationTokenSource cut, SpliceActivity activity)
    {
        public string Name => name;
        public IPEndPoint Target => target;
        public CancellationTokenSource Cut => cut;
        public SpliceActivity Activity => activity;
        /// <summary>Set once the route moved away from <see cref="Target"/>: the splice closes when it is idle.</summary>
        public int Draining;

        public void CutNow()
        {
            try
            {
                cut.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>
    /// Closes the splices whose deployment no longer answers at the endpoint they were connected to. A route that is gone
    /// closes them at once; a route that moved (an update: the old container still serves) closes each one once no
    /// request on it waits for its answer, so an update costs no request (<see cref="TunnelClientOptions.DrainQuiet"/>).
    /// </summary>
    public async Task RevalidateAsync(CancellationToken cancellationToken)
    {
        var names = routes();
        foreach (var splice in _splices.Keys)
        {
            var current = names.Contains(splice.Name) ? await resolveRoute(splice.Name, cancellationToken).ConfigureAwait(false) : null;
            Judge(splice, current);
        }
    }

    /// <summary>Leaves a splice whose route still answers at its target, cuts one whose route is gone, drains one whose route moved.</summary>
    private void Judge(Splice splice, IPEndPoint? current)
    {
        if (current is not null && current.Equals(splice.Target))
            return;
        if (current is null)
        {
            logger.LogDebug("route {Name}: closing a kept connection to {Target}: the route is gone", splice.Name, splice.Target);
            splice.CutNow();
        }
        else if (Interlocked.Exchange(ref splice.Draining, 1) == 0)
        {
            logger.LogDebug("route {Name}: the route moved to {Current}: closing the kept connection to {Target} once it is idle", splice.Name, current, splice.Target);
            _ = CutWhenIdleAsync(splice);
        }
    }

    private async Task CutWhenIdleAsync(Splice splice)
    {
        try
        {
            // Polls the splice's own counters (no I/O): a splice may go idle at any moment, and saying so per byte would cost every byte.
            while (!splice.Cut.IsCancellationRequested && !splice.Activity.IdleFor(options.DrainQuiet))
                await Task.Delay(options.DrainPoll, options.Time, splice.Cut.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return;
        }
        splice.CutNow();
    }

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
            using var cut = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var activity = new SpliceActivity(options.Time);
            var splice = new Splice(name, target, cut, activity);
            _splices.TryAdd(splice, 0);
            try
            {
                // A change between the lookup above and the registration would have missed this splice.
                Judge(splice, routes().Contains(name) ? await resolveRoute(name, cancellationToken).ConfigureAwait(false) : null);
                await AnswerAsync(stream, RouteStatus.Connected, cancellationToken).ConfigureAwait(false);
                var end = await StreamSplice.RunAsync(stream, upstream, options.SpliceBufferSize, cut.Token, activity).ConfigureAwait(false);
                if (end == SpliceEnd.ContainerClosedWithoutAnswer)
                    logger.LogWarning("route {Name}: the container at {Target} closed the connection without answering: does it listen on the port it was deployed with?", name, target);
                else if (end == SpliceEnd.GatewayGaveUp)
                    logger.LogInformation("route {Name}: the gateway gave up before the container answered (the visitor left, or the container was too slow)", name);
            }
            finally
            {
                _splices.TryRemove(splice, out _);
            }
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

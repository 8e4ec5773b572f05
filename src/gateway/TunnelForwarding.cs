using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using PeerCompute.Tunnel.Gateway;
using Yarp.ReverseProxy.Forwarder;

namespace PeerCompute.Gateway;

/// <summary>The provider tunnel and hostname label a request goes to (set by the handler, read by the connect callback).</summary>
internal sealed record TunnelRoute(ProviderTunnel Tunnel, string Label);

/// <summary>
/// The HTTP client side of forwarding: an HTTP/1.1 client whose "connections" are tunnel streams, each spliced by the
/// provider to one connection to the container. Connections are kept alive and reused (pooled per hostname label, so
/// per deployment): a request then costs no new stream, no new container connection and no connection teardown.
/// What a pool may hold is bounded per deployment (<see cref="GatewayOptions.UpstreamConnectionsPerHost"/>: beyond
/// it requests wait for a connection), and an idle connection is closed after
/// <see cref="GatewayOptions.UpstreamIdleTimeout"/>, so idle connections give their tunnel streams back.
/// A pooled connection never reaches another deployment: the pool key is the label, and the provider closes the
/// connections of a route that stopped or moved. One whose stream ended (the container closed it, the tunnel went
/// away) is seen at once by the pool's read-ahead and dropped; a request sent on one that died unseen fails before
/// any answer, which the handler retries on a new connection only when nothing of the request body was sent.
/// Each tunnel session has its own pool (<see cref="TunnelInvokers"/>), dropped as soon as the session goes away, so a
/// reconnected provider starts with fresh connections and a draining tunnel keeps only its in-flight requests.
/// </summary>
internal static class TunnelForwarding
{
    public static readonly HttpRequestOptionsKey<TunnelRoute> RouteKey = new("peercompute.route");

    public static HttpMessageInvoker CreateInvoker(TunnelRegistry registry, GatewayOptions options) => new(new ResponseHeadersTimeoutHandler(options.ResponseHeadersTimeout)
    {
        InnerHandler = CreateTunnelHandler(registry, options),
    }, disposeHandler: true);

    private static SocketsHttpHandler CreateTunnelHandler(TunnelRegistry registry, GatewayOptions options) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        // Zero idle time: a connection per request, as before keep-alive (no stream stays open between requests).
        PooledConnectionLifetime = options.UpstreamIdleTimeout == TimeSpan.Zero ? TimeSpan.Zero : Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = options.UpstreamIdleTimeout,
        MaxConnectionsPerServer = options.UpstreamConnectionsPerHost,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        ConnectCallback = async (context, cancellationToken) =>
        {
            if (!context.InitialRequestMessage.Options.TryGetValue(RouteKey, out var route))
            {
                // Not set by our transformer: resolve from the request's authority (the hostname label).
                string label = context.DnsEndPoint.Host;
                if (registry.Find(label, out var tunnel) != RouteLookupResult.Found)
                    throw new PeerCompute.Tunnel.TunnelException(PeerCompute.Tunnel.TunnelErrorKind.ProviderOffline, $"no tunnel serves {label}");
                route = new TunnelRoute(tunnel!, label);
            }
            return await route.Tunnel.OpenRouteAsync(route.Label, cancellationToken).ConfigureAwait(false);
        },
    };

    public static ForwarderRequestConfig RequestConfig(TimeSpan activityTimeout) => new()
    {
        ActivityTimeout = activityTimeout,
        // Containers speak HTTP/1.1; HTTP/2 clients (and their WebSockets) are translated.
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };
}

/// <summary>
/// One forwarding client (and so one connection pool) per tunnel session. A session that is going away (GoAway,
/// replaced by the provider's new tunnel, closed) has its client disposed within a sweep interval: its idle
/// connections close, giving their streams back so the drain waits only for requests in flight.
/// </summary>
internal sealed class TunnelInvokers : IDisposable
{
    private readonly ConcurrentDictionary<ProviderTunnel, HttpMessageInvoker> _invokers = new();
    private readonly TunnelRegistry _registry;
    private readonly GatewayOptions _options;
    private readonly Timer _sweep;

    public TunnelInvokers(TunnelRegistry registry, GatewayOptions options, TimeSpan sweepInterval)
    {
        _registry = registry;
        _options = options;
        _sweep = new Timer(_ => Sweep(), null, sweepInterval, sweepInterval);
    }

    /// <summary>Tunnel sessions with a forwarding client now.</summary>
    public int Count => _invokers.Count;

    public HttpMessageInvoker For(ProviderTunnel tunnel) =>
        _invokers.GetOrAdd(tunnel, static (_, self) => TunnelForwarding.CreateInvoker(self._registry, self._options), this);

    private void Sweep()
    {
        foreach (var (tunnel, invoker) in _invokers)
            if (!tunnel.IsAvailable && _invokers.TryRemove(new KeyValuePair<ProviderTunnel, HttpMessageInvoker>(tunnel, invoker)))
                invoker.Dispose();
    }

    public void Dispose()
    {
        _sweep.Dispose();
        foreach (var invoker in _invokers.Values)
            invoker.Dispose();
        _invokers.Clear();
    }
}

using System.Net;
using System.Net.Http;
using PeerCompute.Tunnel.Gateway;
using Yarp.ReverseProxy.Forwarder;

namespace PeerCompute.Gateway;

/// <summary>The provider tunnel and hostname label a request goes to (set by the handler, read by the connect callback).</summary>
internal sealed record TunnelRoute(ProviderTunnel Tunnel, string Label);

/// <summary>
/// The HTTP client side of forwarding: an HTTP/1.1 client whose "connections" are tunnel streams. One stream per
/// request (no pooling), so nothing idles in a tunnel, a reconnected provider gets the next request at once, and a
/// draining tunnel has nothing left open but in-flight requests.
/// </summary>
internal static class TunnelForwarding
{
    public static readonly HttpRequestOptionsKey<TunnelRoute> RouteKey = new("peercompute.route");

    public static HttpMessageInvoker CreateInvoker(TunnelRegistry registry, TimeSpan responseHeadersTimeout) => new(new ResponseHeadersTimeoutHandler(responseHeadersTimeout)
    {
        InnerHandler = CreateTunnelHandler(registry),
    }, disposeHandler: true);

    private static SocketsHttpHandler CreateTunnelHandler(TunnelRegistry registry) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        // A connection is a tunnel stream for one request: never kept for another.
        PooledConnectionLifetime = TimeSpan.Zero,
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

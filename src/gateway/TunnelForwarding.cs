using System.Net;
using System.Net.Http;
using Microsoft.AspNetCore.Http;
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

/// <summary>
/// Bounds the wait for a container's status line and headers (SendAsync returns once they are in; the body then
/// streams under YARP's activity timeout). Past it the request fails as "container not answering", which the
/// gateway answers with 503.
/// </summary>
internal sealed class ResponseHeadersTimeoutHandler(TimeSpan timeout) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        headers.CancelAfter(timeout);
        try
        {
            return await base.SendAsync(request, headers.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (headers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException($"the container did not begin its answer within {timeout.TotalSeconds:0} s",
                new PeerCompute.Tunnel.TunnelException(PeerCompute.Tunnel.TunnelErrorKind.UpstreamUnavailable, $"the container did not begin its answer within {timeout.TotalSeconds:0} s", e));
        }
    }
}

/// <summary>
/// Copies the request as YARP does (hop-by-hop headers dropped), keeps the public Host, and sets the
/// <c>X-Forwarded-*</c> headers from what the gateway saw, replacing any a client sent (the gateway is the edge).
/// </summary>
internal sealed class TunnelTransformer : HttpTransformer
{
    public static readonly TunnelTransformer Instance = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        var headers = proxyRequest.Headers;
        // Headers the client named in Connection are for this hop only (RFC 9110 7.6.1).
        foreach (string? value in httpContext.Request.Headers.Connection)
            foreach (var token in ConnectionTokens(value))
            {
                headers.Remove(token);
                proxyRequest.Content?.Headers.Remove(token);
            }
        headers.Remove("X-Forwarded-For");
        headers.Remove("X-Forwarded-Proto");
        headers.Remove("X-Forwarded-Host");
        headers.Remove("Forwarded");
        // Hop-by-hop in practice even if not listed in Connection (RFC 9110 7.6.1, and old clients' Proxy-Connection).
        headers.Remove("Keep-Alive");
        headers.Remove("Proxy-Connection");
        var client = httpContext.Connection.RemoteIpAddress;
        if (client is not null)
            headers.TryAddWithoutValidation("X-Forwarded-For", (client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client).ToString());
        headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        string host = PublicRequestHandler.RawHost(httpContext.Request);
        headers.TryAddWithoutValidation("X-Forwarded-Host", host);
        headers.Host = host;
        if (httpContext.Features.Get<TunnelRoute>() is { } route)
            proxyRequest.Options.Set(TunnelForwarding.RouteKey, route);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        bool proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is not null)
            foreach (string value in proxyResponse.Headers.Connection)
                foreach (var token in ConnectionTokens(value))
                    httpContext.Response.Headers.Remove(token);
        return proceed;
    }

    /// <summary>Header names listed in a Connection value, without the ones the forwarder itself handles.</summary>
    private static IEnumerable<string> ConnectionTokens(string? value)
    {
        if (string.IsNullOrEmpty(value))
            yield break;
        foreach (string part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            if (!part.Equals("close", StringComparison.OrdinalIgnoreCase) && !part.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                && !part.Equals("upgrade", StringComparison.OrdinalIgnoreCase) && !part.Equals("host", StringComparison.OrdinalIgnoreCase))
                yield return part;
    }
}

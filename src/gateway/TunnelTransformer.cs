using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace PeerCompute.Gateway;

/// <summary>
/// Copies the request as YARP does (hop-by-hop headers dropped), keeps the public Host, and sets the
/// <c>X-Forwarded-*</c> headers from what the gateway saw, replacing any a client sent (the gateway is the edge).
/// Answers' cookies are kept to the deployment's own host (<see cref="CookieDomain"/>). For a private or basic
/// deployment, what proved the access (the access cookie, the Authorization header) is not passed on.
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
        {
            proxyRequest.Options.Set(TunnelForwarding.RouteKey, route);
            switch (route.Tunnel.AccessOf(route.Label).Mode)
            {
                case Core.Access.AccessMode.Private when headers.TryGetValues("Cookie", out var cookies):
                    string? kept = AccessGate.WithoutAccessCookie(string.Join("; ", cookies));
                    headers.Remove("Cookie");
                    if (kept is not null)
                        headers.TryAddWithoutValidation("Cookie", kept);
                    break;
                case Core.Access.AccessMode.Basic:
                    headers.Remove("Authorization");
                    break;
            }
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        bool proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is not null)
            foreach (string value in proxyResponse.Headers.Connection)
                foreach (var token in ConnectionTokens(value))
                    httpContext.Response.Headers.Remove(token);
        var cookies = httpContext.Response.Headers.SetCookie;
        if (cookies.Count > 0)
        {
            string host = PublicRequestHandler.RawHost(httpContext.Request);
            int colon = host.LastIndexOf(':');
            var ownHost = colon > 0 && host[^1] != ']' ? host.AsSpan(0, colon) : host.AsSpan();
            var restricted = new string?[cookies.Count];
            for (int i = 0; i < restricted.Length; i++)
                restricted[i] = CookieDomain.Restrict(cookies[i] ?? "", ownHost);
            httpContext.Response.Headers.SetCookie = restricted;
        }
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

using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Limits;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Hostnames;
using Yarp.ReverseProxy.Forwarder;

namespace PeerCompute.Gateway;

/// <summary>
/// Every public request: hostname → route lookup → rate limit → access rule (<see cref="AccessGate"/>) → open-request cap →
/// forward through the provider's tunnel. Answers: unknown host 404; no link, cookie or password for a private or basic
/// deployment 401, a bad one 403; no provider connected or its tunnel full 503; container not answering on its port or the
/// tunnel failing 502; container too slow 504; over the rate limit or with too many requests open 429 (Retry-After).
/// Each body says which part failed.
/// </summary>
internal sealed class PublicRequestHandler(
    string domain,
    TunnelRegistry registry,
    RateLimiter limiter,
    InFlightLimiter concurrency,
    GatewayMetrics metrics,
    IHttpForwarder forwarder,
    TunnelInvokers invokers,
    ForwarderRequestConfig requestConfig,
    ILogger logger,
    DeploymentTraffic traffic,
    DomainClaims? customDomains = null)
{
    private readonly AccessGate _access = new(logger);

    public async Task HandleAsync(HttpContext context)
    {
        string host = RawHost(context.Request);
        if (!TunnelHostname.TryGetLabel(host, domain, out string label) && !TryGetCustomLabel(host, out label))
        {
            await ReplyAsync(context, StatusCodes.Status404NotFound, $"no deployment is served at {Printable(host)}").ConfigureAwait(false);
            return;
        }
        // The route first: a name that is not a deployment costs no limiter state, so made-up hostnames cannot fill
        // the table. Keys are then (client, deployment): one address makes at most one per real deployment.
        var route = registry.Find(label, out var tunnel);
        if (route == RouteLookupResult.UnknownHost)
        {
            await ReplyAsync(context, StatusCodes.Status404NotFound, $"no deployment is served at {Printable(host)}").ConfigureAwait(false);
            return;
        }
        try
        {
            await HandleDeploymentAsync(context, label, route, tunnel).ConfigureAwait(false);
        }
        finally
        {
            traffic.Record(label, context.Response.StatusCode);
        }
    }

    private async Task HandleDeploymentAsync(HttpContext context, string label, RouteLookupResult route, ProviderTunnel? tunnel)
    {
        string client = ClientKey(context.Connection.RemoteIpAddress);
        if (!limiter.TryAcquire(client, label, out var retryAfter))
        {
            metrics.RecordRateLimited();
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ReplyAsync(context, StatusCodes.Status429TooManyRequests, "too many requests; slow down").ConfigureAwait(false);
            return;
        }
        switch (route)
        {
            case RouteLookupResult.ProviderOffline:
                await ReplyAsync(context, StatusCodes.Status503ServiceUnavailable, Describe(TunnelErrorKind.ProviderOffline, ForwarderError.None, label).Message).ConfigureAwait(false);
                logger.LogWarning("{Label}: 503 no provider is connected", label);
                return;
        }

        if (!await _access.AdmitAsync(context, label, tunnel!.AccessOf(label)).ConfigureAwait(false))
        {
            metrics.RecordResponse(context.Response.StatusCode);
            return;
        }

        if (!concurrency.TryEnter(client))
        {
            metrics.RecordConcurrencyLimited();
            context.Response.Headers.RetryAfter = "1";
            await ReplyAsync(context, StatusCodes.Status429TooManyRequests, "too many requests open at once from this address").ConfigureAwait(false);
            return;
        }
        try
        {
            context.Features.Set(new TunnelRoute(tunnel!, label));
            var error = await forwarder.SendAsync(context, "http://" + label + "/", invokers.For(tunnel!), requestConfig, TunnelTransformer.Instance).ConfigureAwait(false);
            if (error != ForwarderError.None)
                await ReportErrorAsync(context, error, label).ConfigureAwait(false);
            metrics.RecordResponse(context.Response.StatusCode);
        }
        finally
        {
            concurrency.Exit(client);
        }
    }

    private async Task ReportErrorAsync(HttpContext context, ForwarderError error, string label)
    {
        if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
            or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled)
            return;
        var exception = context.GetForwarderErrorFeature()?.Exception;
        var reason = FindTunnelError(exception);
        var (status, message) = Describe(reason?.Kind, error, label);
        bool answered = !context.Response.HasStarted;
        if (answered)
        {
            context.Response.Clear();
            if (reason?.Kind == TunnelErrorKind.TunnelBusy)
                context.Response.Headers.RetryAfter = "1";
            await ReplyAsync(context, status, message, record: false).ConfigureAwait(false);
        }
        // One line per failure; a stack trace only for what no part of the path is expected to throw.
        string detail = reason?.Message ?? exception?.Message ?? error.ToString();
        if (reason is null && exception is not null && !IsExpected(exception))
            logger.LogError(exception, "{Label}: {Status} {Message} ({Error})", label, status, message, error);
        else if (answered)
            logger.LogWarning("{Label}: {Status} {Message} ({Detail})", label, status, message, detail);
        else
            logger.LogWarning("{Label}: {Error} after the answer began ({Detail})", label, error, detail);
    }

    /// <summary>The public answer for a failed forward: which part failed (tunnel, provider or container), in words a visitor can pass on.</summary>
    internal static (int Status, string Message) Describe(TunnelErrorKind? kind, ForwarderError error, string label) => kind switch
    {
        TunnelErrorKind.UpstreamUnavailable => (StatusCodes.Status502BadGateway, $"the provider is connected but the container of {label} does not answer on its port"),
        TunnelErrorKind.UpstreamTimeout => (StatusCodes.Status504GatewayTimeout, $"the container of {label} did not answer in time"),
        TunnelErrorKind.UnknownRoute => (StatusCodes.Status404NotFound, $"the provider does not serve {label}"),
        TunnelErrorKind.ProviderOffline => (StatusCodes.Status503ServiceUnavailable, $"no provider is connected for {label}"),
        TunnelErrorKind.Network => (StatusCodes.Status502BadGateway, $"the tunnel to the provider of {label} failed"),
        TunnelErrorKind.TunnelBusy => (StatusCodes.Status503ServiceUnavailable, $"the provider of {label} has too many requests open; try again shortly"),
        _ when error is ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, $"the container of {label} did not answer in time"),
        _ => (StatusCodes.Status502BadGateway, $"the gateway could not forward the request to {label}"),
    };

    /// <summary>Failures of the network, the tunnel or the container: reported as one line, without a stack trace.</summary>
    private static bool IsExpected(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or TimeoutException)
                return true;
        return exception is HttpRequestException or Microsoft.AspNetCore.Connections.ConnectionResetException or BadHttpRequestException;
    }

    private static TunnelException? FindTunnelError(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is TunnelException tunnel)
                return tunnel;
        return null;
    }

    private async Task ReplyAsync(HttpContext context, int status, string message, bool record = true)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        if (record)
            metrics.RecordResponse(status);
        await context.Response.WriteAsync($"{status}: {message}\n", context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The Host header as the client sent it (HTTP/2's :authority lands there too). Not <c>Request.Host</c>: that decodes
    /// punycode, and a label such as <c>xn--…</c> that is not valid punycode makes it throw on every request.
    /// </summary>
    internal static string RawHost(HttpRequest request) => request.Headers.Host.ToString();

    /// <summary>The label a verified custom domain routes to (Host without port or trailing dot, ASCII case folded).</summary>
    private bool TryGetCustomLabel(string host, out string label)
    {
        label = "";
        if (customDomains is null)
            return false;
        string? name = NormalizeHost(host);
        if (name is null || customDomains.VerifiedLabel(name) is not { } found)
            return false;
        label = found;
        return true;
    }

    /// <summary>A Host header as a lower-case DNS name (port and trailing dot removed); null when it is not one.</summary>
    internal static string? NormalizeHost(string host)
    {
        if (host.Length is 0 or > 260 || host[0] == '[')
            return null;
        int colon = host.LastIndexOf(':');
        if (colon >= 0)
        {
            if (host.AsSpan(colon + 1).ContainsAnyExcept("0123456789"))
                return null;
            host = host[..colon];
        }
        host = host.TrimEnd('.');
        if (host.Length is 0 or > 253)
            return null;
        var lower = new char[host.Length];
        for (int i = 0; i < host.Length; i++)
        {
            char c = host[i];
            if (c is >= 'A' and <= 'Z')
                c = (char)(c + 32);
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '.'))
                return null;
            lower[i] = c;
        }
        return new string(lower);
    }

    internal static string ClientKey(IPAddress? address) => AddressKey.For(address);

    private static string Printable(string host) => host.Length <= 100 && host.All(c => c is > ' ' and < '\x7f') ? host : "this name";
}

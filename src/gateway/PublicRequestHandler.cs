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
/// Every public request: hostname → route lookup → rate limit → open-request cap → forward through the provider's tunnel.
/// Answers: unknown host 404, provider offline 502, container not answering or provider tunnel full 503, over the rate limit or with too many requests open 429 (Retry-After).
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
    ILogger logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        string host = RawHost(context.Request);
        if (!TunnelHostname.TryGetLabel(host, domain, out string label))
        {
            await ReplyAsync(context, StatusCodes.Status404NotFound, $"No deployment is served at {Printable(host)}.").ConfigureAwait(false);
            return;
        }
        // The route first: a name that is not a deployment costs no limiter state, so made-up hostnames cannot fill
        // the table. Keys are then (client, deployment): one address makes at most one per real deployment.
        var route = registry.Find(label, out var tunnel);
        if (route == RouteLookupResult.UnknownHost)
        {
            await ReplyAsync(context, StatusCodes.Status404NotFound, $"No deployment is served at {Printable(host)}.").ConfigureAwait(false);
            return;
        }
        string client = ClientKey(context.Connection.RemoteIpAddress);
        if (!limiter.TryAcquire(client, label, out var retryAfter))
        {
            metrics.RecordRateLimited();
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ReplyAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests; slow down.").ConfigureAwait(false);
            return;
        }
        switch (route)
        {
            case RouteLookupResult.ProviderOffline:
                await ReplyAsync(context, StatusCodes.Status502BadGateway, "The provider serving this deployment is offline.").ConfigureAwait(false);
                return;
        }

        if (!concurrency.TryEnter(client))
        {
            metrics.RecordConcurrencyLimited();
            context.Response.Headers.RetryAfter = "1";
            await ReplyAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests open at once from this address.").ConfigureAwait(false);
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
        var exception = context.GetForwarderErrorFeature()?.Exception;
        var reason = FindTunnelError(exception);
        if (!context.Response.HasStarted)
        {
            (int status, string message) = reason?.Kind switch
            {
                TunnelErrorKind.UpstreamUnavailable => (StatusCodes.Status503ServiceUnavailable, "The deployment's container is not answering."),
                TunnelErrorKind.UnknownRoute => (StatusCodes.Status404NotFound, "No deployment is served at this name."),
                TunnelErrorKind.ProviderOffline => (StatusCodes.Status502BadGateway, "The provider serving this deployment is offline."),
                TunnelErrorKind.TunnelBusy => (StatusCodes.Status503ServiceUnavailable, "The provider serving this deployment has too many requests open; try again shortly."),
                _ when error is ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "The deployment did not answer in time."),
                _ when error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => (context.Response.StatusCode, ""),
                _ => (StatusCodes.Status502BadGateway, "The request could not be forwarded to the deployment."),
            };
            if (message.Length > 0)
            {
                context.Response.Clear();
                if (reason?.Kind == TunnelErrorKind.TunnelBusy)
                    context.Response.Headers.RetryAfter = "1";
                await ReplyAsync(context, status, message, record: false).ConfigureAwait(false);
            }
        }
        if (error is not (ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled))
            logger.LogInformation("{Label}: {Error}: {Reason}", label, error, reason?.Message ?? exception?.Message ?? "");
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
        await context.Response.WriteAsync($"{status} {message}\n", context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The Host header as the client sent it (HTTP/2's :authority lands there too). Not <c>Request.Host</c>: that decodes
    /// punycode, and a label such as <c>xn--…</c> that is not valid punycode makes it throw on every request.
    /// </summary>
    internal static string RawHost(HttpRequest request) => request.Headers.Host.ToString();

    internal static string ClientKey(IPAddress? address) => AddressKey.For(address);

    private static string Printable(string host) => host.Length <= 100 && host.All(c => c is > ' ' and < '\x7f') ? host : "this name";
}

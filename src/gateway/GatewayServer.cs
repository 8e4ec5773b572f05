using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PeerCompute.Cli;
using PeerCompute.Core.Hosting;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Limits;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Dns;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Tls;
using Yarp.ReverseProxy.Forwarder;
using ZLogger;

namespace PeerCompute.Gateway;

/// <summary>
/// Wires the parts: Kestrel for public HTTPS (and the local metrics port), the tunnel listener, the certificate
/// that both use (reloaded from its files), the rate limiter and the forwarder.
/// </summary>
internal sealed class GatewayServer : IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly WebApplication _app;
    private readonly TunnelServer _tunnels;
    private readonly HostnameBindings _bindings;
    private readonly ReloadingCertificate _certificate;
    private readonly GatewayMetrics _metrics;
    private readonly TunnelInvokers _invoker;
    private readonly ILogger _logger;
    private readonly Libp2pHost? _relayHost;

    /// <summary>Connections of callers (peerctl through the relay) the relay's host holds at once, and from one address.</summary>
    private const int RelayCallers = 1024;
    private const int RelayCallersPerAddress = 64;

    /// <summary>Connections in their libp2p handshake at once on the relay's port.</summary>
    private const int RelayHandshakes = 128;
    private CircuitRelayServer? _relay;
    private readonly AuthoritativeDnsServer? _dns;
    private CustomDomains? _customDomains;
    private ChallengePeers? _challengePeers;

    private GatewayServer(GatewayOptions options, WebApplication app, TunnelServer tunnels, HostnameBindings bindings, ReloadingCertificate certificate, GatewayMetrics metrics, TunnelInvokers invoker, ILogger logger,
        Libp2pHost? relayHost, AuthoritativeDnsServer? dns)
    {
        _relayHost = relayHost;
        _dns = dns;
        _options = options;
        _app = app;
        _tunnels = tunnels;
        _bindings = bindings;
        _certificate = certificate;
        _metrics = metrics;
        _invoker = invoker;
        _logger = logger;
    }

    public static GatewayServer Create(GatewayOptions options)
    {
        ReloadingCertificate certificate;
        HostnameBindings bindings;
        DomainClaims? claims = null;
        PeerIdentity? relayIdentity = null;
        try
        {
            certificate = new ReloadingCertificate(options.CertificateFile!, options.KeyFile!);
            bindings = HostnameBindings.Load(options.StateFolder, options.MaxHostnameBindings);
            if (options.ServesCustomDomains)
                claims = DomainClaims.Load(options.StateFolder, options.Domain);
            if (options.RelayPort != 0)
                relayIdentity = IdentityStore.LoadOrCreate(options.RelayKeyFile);
        }
        catch (Exception e) when (e is TunnelException or IdentityException or IOException or UnauthorizedAccessException)
        {
            throw new CliException(e.Message);
        }

        // The empty builder: no configuration files or environment variables, no console logger (ZLogger logs);
        // only Kestrel's core (HTTP/1.1 and HTTP/2; no QUIC, no HTTPS configuration binding).
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ApplicationName = "gateway" });
        builder.WebHost.UseKestrelCore();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // YARP logs each failed forward with its stack trace; the handler logs it as one line instead.
        builder.Logging.AddFilter("Yarp", LogLevel.Error);
        // A failed start (a port in use) is reported once, as one line, by RunAsync; not as a logged stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Logging.AddZLoggerConsole(console => console.UsePlainTextFormatter(formatter =>
            formatter.SetPrefixFormatter($"{0:utc-longdate} {1:short} ", (in MessageTemplate template, in LogInfo info) => template.Format(info.Timestamp, info.LogLevel))));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout);
        builder.Services.AddHttpForwarder();
        // Kestrel's default first waits for data with a zero-byte receive and only then reads it into a 4 KiB block: two
        // receives per 4 KiB of a request body (an upload). Reading straight away halves them; an idle connection then
        // holds its 4 KiB block while it waits.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>(sockets => sockets.WaitForDataBeforeAllocatingBuffer = false);
        CustomDomains? customDomains = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = options.MaxConnections;
            // Bodies stream through; nothing is buffered whole, so no size cap is needed here.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
            bool tlsAlpn = options.ServesCustomDomains && options.CustomDomains.Challenge == CustomDomainChallenge.TlsAlpn01;
            kestrel.Listen(options.ListenAddress, options.HttpsPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                if (tlsAlpn)
                    listen.Use(next => connection => Acme.TlsAlpnChallenge.PeekAsync(connection, next, options.TlsHandshakeTimeout));
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    HandshakeTimeout = options.TlsHandshakeTimeout,
                    OnConnection = hello =>
                    {
                        string? name = hello.ClientHelloInfo.ServerName;
                        if (tlsAlpn && Acme.TlsAlpnChallenge.IsValidation(hello.Connection) && customDomains?.TlsAlpnCertificateFor(name) is { } challenge)
                            return ValueTask.FromResult(Acme.TlsAlpnChallenge.Options(challenge));
                        return ValueTask.FromResult(TunnelTls.PublicHttpsOptions(customDomains?.CertificateFor(name) ?? certificate.Current));
                    },
                });
                if (tlsAlpn)
                    listen.Use(next => connection => Acme.TlsAlpnChallenge.CloseValidations(connection, next));
            });
            if (options.HttpPort != 0)
                kestrel.Listen(options.ListenAddress, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
            if (options.MetricsPort is int metricsPort)
                kestrel.Listen(IPAddress.Loopback, metricsPort, listen => listen.Protocols = HttpProtocols.Http1);
        });

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("gateway");
        certificate.Logger = logger;
        foreach (string warning in bindings.LoadWarnings)
            logger.LogWarning("{Warning}", warning);
        bindings.Report = message => logger.LogWarning("{Message}", message);
        var metrics = new GatewayMetrics();
        if (claims is not null)
            customDomains = new CustomDomains(claims, options.CustomDomains, options.Acme!, options.Domain, options.StateFolder, logger);
        var tunnels = new TunnelServer(new TunnelServerOptions
        {
            Domain = options.Domain,
            HttpsPort = options.HttpsPort,
            TunnelEndPoint = new IPEndPoint(options.ListenAddress, options.TunnelPort),
            Open = options.Open,
            TrustedProviders = options.TrustedProviders,
            Relay = relayIdentity is null ? null : new PeerCompute.Tunnel.Protocol.RelayOffer(relayIdentity.PeerId, (ushort)options.RelayPort, []),
            DrainTimeout = options.DrainTimeout,
            Domains = claims,
            DomainStatus = customDomains,
            HandshakeTimeout = options.TunnelHandshakeTimeout,
            MaxPendingHandshakesPerAddress = options.TunnelHandshakesPerAddress,
            FirstByteTimeout = options.TunnelFirstByteTimeout,
            Yamux = TunnelServerOptions.WithGatewayDefaults(TunnelLimits.Yamux(options.TunnelMaxStreams, options.TunnelReceiveBudget)),
        }, () => certificate.Current, bindings, metrics, logger);
        var invoker = new TunnelInvokers(tunnels.Registry, options, TimeSpan.FromSeconds(1));
        var limiter = new RateLimiter(options.RateLimit);
        metrics.RateLimitBuckets = () => limiter.TrackedClients;
        var traffic = new DeploymentTraffic();
        var handler = new PublicRequestHandler(options.Domain, tunnels.Registry, limiter, new InFlightLimiter(options.MaxRequestsPerClient), metrics,
            app.Services.GetRequiredService<IHttpForwarder>(), invoker, TunnelForwarding.RequestConfig(options.UpstreamActivityTimeout), logger, traffic, claims);
        var challengePeers = options.PeerGateways.Count > 0 ? new ChallengePeers(options.PeerGateways, options.ChallengePeers, logger) : null;
        int httpPortValue = options.HttpPort;
        int? metricsPortValue = options.MetricsPort;
        var startedAt = DateTimeOffset.UtcNow;
        GatewayStatusSnapshot Status()
        {
            var current = certificate.Current.TargetCertificate;
            var rows = tunnels.Registry.Tunnels.Select(t => new TunnelRow(t.PeerId.ToString(), t.Tag, t.RemoteEndPoint?.ToString(), t.ConnectedAt, [.. t.Routes], t.OpenStreams)).ToList();
            return new GatewayStatusSnapshot(options.Domain, startedAt, DateTimeOffset.UtcNow, rows, traffic.Snapshot(),
                new CertificateRow(current.Subject, current.Issuer, current.NotAfter), customDomains?.All());
        }
        app.Run(context =>
        {
            if (metricsPortValue is int port && context.Connection.LocalPort == port && !context.Request.IsHttps)
                return context.Request.Path == "/" ? ServeStatusPageAsync(context, Status()) : ServeMetricsAsync(context, metrics);
            if (httpPortValue != 0 && context.Connection.LocalPort == httpPortValue && !context.Request.IsHttps)
                return ServePlainHttpAsync(context, customDomains, challengePeers, options.HttpsPort);
            return handler.HandleAsync(context);
        });
        Libp2pHost? relayHost = null;
        if (relayIdentity is not null)
        {
            // Providers named with --trust-provider get the room a libp2p host keeps for trusted peers, one per possible
            // reservation; users who dial through the relay (and providers let in by --open) are strangers to it,
            // within the limits for those, sized so that every reservation still fits.
            int strangers = RelayCallers + (options.Open ? options.Relay.MaxReservations : 0);
            relayHost = new Libp2pHost(relayIdentity, new Libp2pHostOptions
            {
                IsTrusted = options.TrustedProviders.Contains,
                MaxPendingInboundConnections = RelayHandshakes,
                MaxUntrustedConnections = strangers,
                MaxUntrustedConnectionsPerAddress = RelayCallersPerAddress,
                MaxInboundConnections = RelayHandshakes + strangers + options.Relay.MaxReservations + 1,
                MaxUntrustedPeersInAddressBook = 64,
                AgentVersion = "peercompute-gateway/0.1.0",
            }, logger);
        }
        AuthoritativeDnsServer? dns = options.DnsPort == 0
            ? null
            : new AuthoritativeDnsServer(new DnsZone(options.Domain, options.PublicAddresses, new DnsTxtRecords()), options.Dns, logger);
        return new GatewayServer(options, app, tunnels, bindings, certificate, metrics, invoker, logger, relayHost, dns) { _customDomains = customDomains, _challengePeers = challengePeers };
    }

    private const string ChallengePath = "/.well-known/acme-challenge/";

    /// <summary>
    /// The plain-HTTP port: the key authorization of an HTTP-01 challenge in progress (RFC 8555 §8.3), 404 for any other
    /// token; every other request is sent to the same name and path over HTTPS (308, so the method and body stay).
    /// </summary>
    private static Task ServePlainHttpAsync(HttpContext context, CustomDomains? customDomains, ChallengePeers? peers, int httpsPort)
    {
        string path = context.Request.Path.Value ?? "/";
        if (path.StartsWith(ChallengePath, StringComparison.Ordinal))
            return ServeChallengeAsync(context, path[ChallengePath.Length..], customDomains, peers);
        if (PublicRequestHandler.NormalizeHost(PublicRequestHandler.RawHost(context.Request)) is not { } host)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return context.Response.WriteAsync("a request needs a Host header naming a site\n", context.RequestAborted);
        }
        string port = httpsPort == 443 ? "" : ":" + httpsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.StatusCode = StatusCodes.Status308PermanentRedirect;
        context.Response.Headers.Location = $"https://{host}{port}{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";
        return Task.CompletedTask;
    }

    /// <summary>
    /// A token of this gateway's own, else (with --peer-gateway, and unless a peer gateway is the one asking) the first
    /// peer's key authorization for it, else 404.
    /// </summary>
    private static async Task ServeChallengeAsync(HttpContext context, string token, CustomDomains? customDomains, ChallengePeers? peers)
    {
        string? keyAuthorization = customDomains?.KeyAuthorization(token);
        if (keyAuthorization is null && peers is not null && !context.Request.Headers.ContainsKey(ChallengePeers.RelayHeader))
            keyAuthorization = await peers.AskAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (keyAuthorization is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        context.Response.ContentType = "application/octet-stream";
        await context.Response.WriteAsync(keyAuthorization, context.RequestAborted).ConfigureAwait(false);
    }

    private static Task ServeStatusPageAsync(HttpContext context, GatewayStatusSnapshot status)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(StatusPage.Render(status), context.RequestAborted);
    }

    private static Task ServeMetricsAsync(HttpContext context, GatewayMetrics metrics)
    {
        if (context.Request.Path != "/metrics")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        return context.Response.WriteAsync(metrics.ToPrometheusText(), context.RequestAborted);
    }

    /// <summary>Serves until <paramref name="cancellationToken"/> fires (SIGTERM, Ctrl+C), then drains and stops.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            _tunnels.Start();
            await _app.StartAsync(CancellationToken.None).ConfigureAwait(false);
            await StartRelayAsync().ConfigureAwait(false);
            if (_dns is not null)
            {
                _dns.Start(_options.ListenAddress, _options.DnsPort);
                _metrics.DnsQueries = () => _dns.Queries;
                _metrics.DnsRateLimited = () => _dns.RateLimited;
            }
        }
        catch (Exception e) when (e is TunnelException or IOException or System.Net.Sockets.SocketException)
        {
            throw new CliException($"Cannot start: {e.Message}");
        }
        var pin = CertificatePin.FromCertificate(_certificate.Current.TargetCertificate);
        _logger.LogInformation("gateway up: serving *.{Domain} on {Https} ({Dns}); tunnels on {Tunnel}; certificate key {Pin}{SelfSigned}; providers: {Providers}; rate limit {Rate}/s per client",
            _options.Domain, new IPEndPoint(_options.ListenAddress, _options.HttpsPort), _dns is null ? DnsNeed(_options.Domain) : $"authoritative for {_options.Domain}: delegate it here with an NS record", new IPEndPoint(_options.ListenAddress, _options.TunnelPort),
            pin, _options.SelfSigned ? " (self-signed: give providers --gateway-pin " + pin + ")" : "",
            _options.Open ? "any (open)" : $"{_options.TrustedProviders.Count} trusted", _options.RateLimit.RequestsPerSecond);
        if (_options.ListenDefaulted && IPAddress.IsLoopback(_options.ListenAddress))
            _logger.LogInformation("listening on loopback only ({Why} without --listen): other machines cannot reach this gateway; give --listen 0.0.0.0 (or ::) to serve them",
                _options.Open ? "--open" : "--self-signed");
        if (_relayHost is not null)
            _logger.LogInformation("relay (libp2p circuit relay v2) on port {Port}: {Addresses}", _options.RelayPort,
                string.Join(", ", _relayHost.ListenAddresses.Select(a => a.WithPeerId(_relayHost.PeerId).ToString())));
        if (_dns is not null)
            _logger.LogInformation("dns: authoritative for {Domain} on UDP and TCP {EndPoint}: every name in it -> {Addresses}; name server {NameServer}; no recursion",
                _options.Domain, _dns.EndPoint, string.Join(", ", _options.PublicAddresses), _dns.Zone.NameServer);
        if (_options.MetricsPort is int metricsPort)
            _logger.LogInformation("metrics on http://127.0.0.1:{Port}/metrics, status page on http://127.0.0.1:{Port}/", metricsPort, metricsPort);
        SystemdNotify.Notify("READY=1");

        using var stopWatching = new CancellationTokenSource();
        var watch = _certificate.WatchAsync(_options.CertificatePollInterval, stopWatching.Token);
        var acme = Task.CompletedTask;
        if (_options is { AcmeWildcard: true, Acme: { } acmeOptions } && _dns is not null)
        {
            var certificates = new Acme.AcmeCertificates(acmeOptions, _options.Domain, _options.StateFolder, _dns.Zone.Txt, _certificate, _logger);
            _metrics.AcmeFailures = () => certificates.ConsecutiveFailures;
            acme = certificates.RunAsync(stopWatching.Token);
        }
        var domains = _customDomains?.RunAsync(stopWatching.Token) ?? Task.CompletedTask;
        if (_customDomains is not null && _options.CustomDomains.Challenge == CustomDomainChallenge.TlsAlpn01)
            _logger.LogInformation("custom domains: on; TLS-ALPN-01 challenges on {EndPoint}; DNS checked through {Resolver}",
                new IPEndPoint(_options.ListenAddress, _options.HttpsPort), _options.CustomDomains.Resolver?.ToString() ?? "the system's resolver");
        else if (_customDomains is not null)
            _logger.LogInformation("custom domains: on; HTTP-01 challenges and redirects to HTTPS on {EndPoint}; DNS checked through {Resolver}",
                new IPEndPoint(_options.ListenAddress, _options.HttpPort), _options.CustomDomains.Resolver?.ToString() ?? "the system's resolver");
        if (_challengePeers is not null)
            _logger.LogInformation("peer gateways: HTTP-01 tokens this gateway does not hold are asked of {Peers}", string.Join(", ", _challengePeers.Peers));
        if (_customDomains is null && _options.HttpPort != 0)
            _logger.LogInformation("plain HTTP on {EndPoint}: redirects to HTTPS (custom domains need --acme-directory too)", new IPEndPoint(_options.ListenAddress, _options.HttpPort));
        var trim = TrimWhenIdleAsync(stopWatching.Token);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _logger.LogInformation("shutting down: draining requests and tunnels for up to {Seconds} s", _options.DrainTimeout.TotalSeconds);
        SystemdNotify.Notify("STOPPING=1");
        await Task.WhenAll(_app.StopAsync(CancellationToken.None), _tunnels.ShutdownAsync(), StopRelayAsync(), StopDnsAsync()).ConfigureAwait(false);
        stopWatching.Cancel();
        await watch.ConfigureAwait(false);
        await acme.ConfigureAwait(false);
        await domains.ConfigureAwait(false);
        await trim.ConfigureAwait(false);
        // Hostname bindings are written in the background; what is still pending goes to disk before the exit.
        await _bindings.DisposeAsync().ConfigureAwait(false);
        _logger.LogInformation("gateway stopped");
    }

    /// <summary>
    /// Listens for the relay: on both IPv4 and IPv6 when the gateway listens on every address (<c>::</c>), since the libp2p
    /// transport binds one family per socket; an IPv6 bind that the machine cannot make is skipped when IPv4 works.
    /// </summary>
    private async Task StartRelayAsync()
    {
        if (_relayHost is null)
            return;
        _relay = new CircuitRelayServer(_relayHost, _options.Relay with { MayReserve = _options.MayReserve }, _logger);
        _metrics.RelayReservations = () => _relay.ReservationCount;
        _metrics.RelayCircuits = () => _relay.CircuitCount;
        var listen = _options.ListenAddress;
        if (listen.Equals(IPAddress.IPv6Any))
        {
            await _relayHost.ListenAsync(Multiaddr.FromEndPoint(new IPEndPoint(IPAddress.Any, _options.RelayPort))).ConfigureAwait(false);
            try
            {
                await _relayHost.ListenAsync(Multiaddr.FromEndPoint(new IPEndPoint(IPAddress.IPv6Any, _options.RelayPort))).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                _logger.LogInformation("relay: not listening on IPv6 ({Reason}); IPv4 only", e.Message);
            }
        }
        else
        {
            await _relayHost.ListenAsync(Multiaddr.FromEndPoint(new IPEndPoint(listen, _options.RelayPort))).ConfigureAwait(false);
        }
    }

    /// <summary>What name resolution the domain needs for visitors to arrive here.</summary>
    internal static string DnsNeed(string domain) =>
        domain == "localhost" || domain.EndsWith(".localhost", StringComparison.Ordinal)
            ? "names under .localhost resolve to this host: no DNS record needed"
            : $"needs a wildcard DNS record *.{domain} -> this host";

    private async Task StopDnsAsync()
    {
        if (_dns is not null)
            await _dns.DisposeAsync().ConfigureAwait(false);
    }

    private async Task StopRelayAsync()
    {
        if (_relay is not null)
            await _relay.DisposeAsync().ConfigureAwait(false);
        if (_relayHost is not null)
            await _relayHost.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Gives memory back once a busy spell is over: an idle process allocates nothing, so no collection runs and the
    /// heaps and pooled buffers a load grew stay committed. One aggressive collection after a quiet interval returns them.
    /// </summary>
    private async Task TrimWhenIdleAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.IdleTrimInterval);
        long seen = _metrics.RouteStreamsOpened;
        bool busySinceTrim = false;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                long now = _metrics.RouteStreamsOpened;
                if (now != seen)
                {
                    seen = now;
                    busySinceTrim = true;
                }
                else if (busySinceTrim)
                {
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    busySinceTrim = false;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopDnsAsync().ConfigureAwait(false);
        await StopRelayAsync().ConfigureAwait(false);
        await _tunnels.DisposeAsync().ConfigureAwait(false);
        await _bindings.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _invoker.Dispose();
        _challengePeers?.Dispose();
    }
}

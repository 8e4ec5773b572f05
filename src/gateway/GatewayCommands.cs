using System.Net;
using System.Security.Cryptography.X509Certificates;
using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Gateway;

internal sealed class GatewayCommands
{
    private const string DefaultDomain = "peercompute.xdastechnology.com";

    /// <summary>
    /// Run the gateway: public HTTPS on --https-port, provider tunnels on --tunnel-port. Each request for
    /// https://NAME-TAG.DOMAIN goes through the tunnel of the provider whose PeerId gives TAG. State (who owns which
    /// tag) lives in $PEERCOMPUTE_HOME/gateway/.
    ///
    /// Examples:
    ///   gateway --domain example.org --cert /etc/ssl/wild.pem --key /etc/ssl/wild.key --trust-provider 12D3KooW...
    ///   gateway --domain peercompute.localhost --self-signed --https-port 8443 --tunnel-port 9443 --open
    ///   gateway --domain example.org --dns-port 53 --public-ip 203.0.113.7 --acme-directory URL --acme-email ops@example.org --trust-provider 12D3KooW...
    /// With --open or --self-signed it listens on loopback only unless --listen says otherwise.
    /// </summary>
    /// <param name="domain">Public domain; deployments are served as NAME-TAG.DOMAIN (needs DNS *.DOMAIN pointing here).</param>
    /// <param name="httpsPort">Public HTTPS port.</param>
    /// <param name="tunnelPort">Port providers connect to.</param>
    /// <param name="listen">Address every port listens on (HTTPS, tunnel, relay), e.g. 0.0.0.0, ::, 127.0.0.1; default :: (every interface), or 127.0.0.1 with --open or --self-signed.</param>
    /// <param name="rateLimit">Requests per second allowed per client IP and hostname (token bucket).</param>
    /// <param name="rateBurst">Bucket size (requests allowed at once after a pause); default: the rate.</param>
    /// <param name="rateLimitClients">Rate-limit buckets (client and deployment pairs) kept at most; beyond it new pairs get 429 until idle ones are forgotten.</param>
    /// <param name="maxRequestsPerClient">Public requests one client IP may have open at once (downloads, WebSockets, event streams); beyond it 429.</param>
    /// <param name="tunnelMaxStreams">Requests one provider's tunnel carries at once (each open download, WebSocket or event stream holds one); beyond it 503.</param>
    /// <param name="tunnelReceiveBudgetMib">MiB one tunnel may buffer from its provider, all its requests together (each open request can take 256 KiB of it).</param>
    /// <param name="maxHostnameBindings">Hostname tags (providers) the gateway remembers in hostnames.json; beyond it the tag of the provider seen longest ago, and not connected, is forgotten (logged).</param>
    /// <param name="tunnelHandshakesPerAddress">Tunnel-port connections still in their handshake from one IP at most; beyond it new ones are closed.</param>
    /// <param name="tunnelHandshakeTimeout">Seconds a provider's TLS and authentication on the tunnel port may take.</param>
    /// <param name="tunnelFirstByteTimeout">Seconds a new tunnel-port connection may stay silent before it is closed.</param>
    /// <param name="cert">PEM certificate (leaf first, then intermediates), a wildcard for *.DOMAIN; reloaded when it changes.</param>
    /// <param name="key">PEM private key of --cert.</param>
    /// <param name="selfSigned">Make (once) and use a self-signed certificate for *.DOMAIN, kept in the state folder; prints its pin for providers' --gateway-pin.</param>
    /// <param name="trustProvider">Accept tunnels from this provider PeerId, or from each PeerId listed in this file (one per line). Repeatable.</param>
    /// <param name="open">Accept tunnels from any provider that proves its identity.</param>
    /// <param name="metricsPort">Serve Prometheus metrics at http://127.0.0.1:PORT/metrics.</param>
    /// <param name="drainSeconds">On SIGTERM, seconds given to in-flight requests before closing.</param>
    /// <param name="responseTimeout">Seconds a container may take to start its answer (status and headers) before the client gets 503.</param>
    /// <param name="upstreamConnections">Connections to one deployment at once (each holds a tunnel stream and is kept alive for the next request); more requests wait.</param>
    /// <param name="upstreamIdleSeconds">Seconds a kept-alive connection to a deployment may stay idle before it is closed; 0: a new connection (tunnel stream) per request.</param>
    /// <param name="relayPort">Port of the libp2p relay (circuit relay v2) that lets users reach providers behind NAT; 0 turns it off. Its PeerId: gateway id.</param>
    /// <param name="relayMaxReservations">Providers the relay holds reservations for at once.</param>
    /// <param name="relayMaxReservationsPerAddress">Reservations from one IP address (IPv6: /64) at once.</param>
    /// <param name="relayMaxCircuits">Relayed connections to one provider at once.</param>
    /// <param name="relayCircuitSeconds">A relayed connection is closed after this many seconds (0: no limit).</param>
    /// <param name="relayCircuitMib">A relayed connection is closed once it carried this many MiB in one direction (0: no limit).</param>
    /// <param name="relayBandwidthMibps">MiB per second relayed to and from one provider, all its connections together (0: no limit).</param>
    /// <param name="dnsPort">UDP and TCP port of the gateway's authoritative DNS server for DOMAIN (53 once the zone is delegated to this host); 0: no DNS server.</param>
    /// <param name="acmeDirectory">ACME directory URL of a CA (RFC 8555): the gateway obtains and renews its certificate for *.DOMAIN and DOMAIN itself, by DNS-01 through its own DNS server (needs --dns-port). Instead of --cert/--key or --self-signed; beside --cert/--key (a second gateway serving the issuer's files) it obtains custom domains' certificates only.</param>
    /// <param name="acmeEmail">Contact address for the ACME account (expiry and policy notices from the CA).</param>
    /// <param name="acmeCa">PEM root certificate to trust for the ACME server's HTTPS instead of the system's (a test CA such as pebble's).</param>
    /// <param name="acmeRetrySeconds">Seconds before the first retry after a failed certificate order; each further retry waits twice as long, up to 6 hours.</param>
    /// <param name="httpPort">Port of a plain-HTTP listener (80 in production): answers ACME HTTP-01 challenges for custom domains and redirects everything else to HTTPS; 0: none. With --acme-directory, custom domains are proved here (HTTP-01) rather than on the HTTPS port (TLS-ALPN-01).</param>
    /// <param name="resolver">DNS resolver (HOST:PORT, or HOST for port 53) the gateway asks whether a custom domain points at its deployment; default: the system's (/etc/resolv.conf).</param>
    /// <param name="domainCheckSeconds">Seconds between looks at a custom domain whose DNS does not point here yet.</param>
    /// <param name="peerGateway">Another gateway of the zone, as http://HOST:PORT of its --http-port: a CA's HTTP-01 request for a custom domain's token this gateway does not hold is answered with that gateway's (several gateways in DNS for one domain). Repeatable; needs --http-port.</param>
    /// <param name="acmeChallenge">How custom domains are proved to the ACME CA: http-01 (on --http-port; the default when it is set) or tls-alpn-01 (on the HTTPS port, RFC 8737; the default without --http-port, for hosts without port 80).</param>
    /// <param name="publicIp">Public address (IPv4 or IPv6) the DNS server gives for DOMAIN and every name under it. Repeatable; needed with --dns-port.</param>
    [Command("")]
    public async Task Run(
        string domain = DefaultDomain,
        int httpsPort = 443,
        int tunnelPort = 8443,
        string? listen = null,
        double rateLimit = 100,
        double? rateBurst = null,
        int rateLimitClients = 100_000,
        int maxRequestsPerClient = 128,
        int tunnelMaxStreams = TunnelLimits.MaxStreams,
        int maxHostnameBindings = HostnameBindings.DefaultMaxBindings,
        int tunnelReceiveBudgetMib = (int)(TunnelLimits.ReceiveBudget / (1024 * 1024)),
        int tunnelHandshakesPerAddress = 8,
        int tunnelHandshakeTimeout = 10,
        int tunnelFirstByteTimeout = 3,
        string? cert = null,
        string? key = null,
        bool selfSigned = false,
        RepeatedOption? trustProvider = null,
        bool open = false,
        int? metricsPort = null,
        int drainSeconds = 10,
        int responseTimeout = 30,
        int upstreamConnections = 1024,
        int upstreamIdleSeconds = 15,
        int relayPort = 4001,
        int relayMaxReservations = 1024,
        int relayMaxReservationsPerAddress = 16,
        int relayMaxCircuits = 64,
        int relayCircuitSeconds = 7200,
        int relayCircuitMib = 1024,
        int relayBandwidthMibps = 32,
        int dnsPort = 0,
        RepeatedOption? publicIp = null,
        string? acmeDirectory = null,
        string? acmeEmail = null,
        string? acmeCa = null,
        int acmeRetrySeconds = 60,
        int httpPort = 0,
        string? resolver = null,
        int domainCheckSeconds = 60,
        RepeatedOption? peerGateway = null,
        string? acmeChallenge = null,
        CancellationToken cancellationToken = default)
    {
        var acme = AcmeOptionsFrom(acmeDirectory, acmeEmail, acmeCa, acmeRetrySeconds, cert, key, selfSigned, dnsPort);
        var options = BuildOptions(domain, httpsPort, tunnelPort, listen, rateLimit, rateBurst, cert, key, selfSigned, trustProvider, open, metricsPort, drainSeconds, acme) with
        {
            ResponseHeadersTimeout = responseTimeout is >= 1 and <= 3600 ? TimeSpan.FromSeconds(responseTimeout) : throw new UsageException("--response-timeout must be between 1 and 3600 seconds."),
            UpstreamConnectionsPerHost = upstreamConnections is >= 1 and <= 65536 ? upstreamConnections : throw new UsageException("--upstream-connections must be between 1 and 65536."),
            UpstreamIdleTimeout = upstreamIdleSeconds is >= 0 and <= 3600 ? TimeSpan.FromSeconds(upstreamIdleSeconds) : throw new UsageException("--upstream-idle-seconds must be between 0 and 3600."),
        };
        options = options with
        {
            RateLimit = options.RateLimit with
            {
                MaxTrackedClients = rateLimitClients >= 1 ? rateLimitClients : throw new UsageException("--rate-limit-clients must be at least 1."),
            },
            TunnelHandshakesPerAddress = tunnelHandshakesPerAddress >= 1 ? tunnelHandshakesPerAddress : throw new UsageException("--tunnel-handshakes-per-address must be at least 1."),
            TunnelHandshakeTimeout = tunnelHandshakeTimeout is >= 1 and <= 600 ? TimeSpan.FromSeconds(tunnelHandshakeTimeout) : throw new UsageException("--tunnel-handshake-timeout must be between 1 and 600 seconds."),
            TunnelFirstByteTimeout = tunnelFirstByteTimeout is >= 1 and <= 60 ? TimeSpan.FromSeconds(tunnelFirstByteTimeout) : throw new UsageException("--tunnel-first-byte-timeout must be between 1 and 60 seconds."),
            MaxRequestsPerClient = maxRequestsPerClient >= 1 ? maxRequestsPerClient : throw new UsageException("--max-requests-per-client must be at least 1."),
            MaxHostnameBindings = maxHostnameBindings is >= 1 and <= 10_000_000 ? maxHostnameBindings : throw new UsageException("--max-hostname-bindings must be between 1 and 10000000."),
            TunnelMaxStreams = tunnelMaxStreams is >= 16 and <= 65536 ? tunnelMaxStreams : throw new UsageException("--tunnel-max-streams must be between 16 and 65536."),
            TunnelReceiveBudget = tunnelReceiveBudgetMib is >= 1 and <= 65536 ? tunnelReceiveBudgetMib * 1024L * 1024 : throw new UsageException("--tunnel-receive-budget-mib must be between 1 and 65536."),
            RelayPort = relayPort is >= 0 and <= 65535 ? relayPort : throw new UsageException($"--relay-port must be between 0 (no relay) and 65535 (got {relayPort})."),
            Relay = new Net.Relay.CircuitRelayOptions
            {
                MaxReservations = relayMaxReservations is >= 1 and <= 1_000_000 ? relayMaxReservations : throw new UsageException("--relay-max-reservations must be between 1 and 1000000."),
                MaxReservationsPerAddress = relayMaxReservationsPerAddress is >= 1 and <= 1_000_000 ? relayMaxReservationsPerAddress : throw new UsageException("--relay-max-reservations-per-address must be between 1 and 1000000."),
                MaxCircuitsPerReservation = relayMaxCircuits is >= 1 and <= 65536 ? relayMaxCircuits : throw new UsageException("--relay-max-circuits must be between 1 and 65536."),
                CircuitDuration = relayCircuitSeconds switch
                {
                    0 => null,
                    >= 1 and <= 30 * 86400 => TimeSpan.FromSeconds(relayCircuitSeconds),
                    _ => throw new UsageException("--relay-circuit-seconds must be between 1 and 2592000 (30 days), or 0 for no limit."),
                },
                CircuitDataBytes = relayCircuitMib switch
                {
                    0 => null,
                    >= 1 and <= 1_048_576 => relayCircuitMib * 1024L * 1024,
                    _ => throw new UsageException("--relay-circuit-mib must be between 1 and 1048576, or 0 for no limit."),
                },
                BytesPerSecondPerPeer = relayBandwidthMibps switch
                {
                    0 => null,
                    >= 1 and <= 100_000 => relayBandwidthMibps * 1024L * 1024,
                    _ => throw new UsageException("--relay-bandwidth-mibps must be between 1 and 100000, or 0 for no limit."),
                },
            },
        };
        options = options with
        {
            DnsPort = dnsPort is >= 0 and <= 65535 ? dnsPort : throw new UsageException($"--dns-port must be between 0 (no DNS server) and 65535 (got {dnsPort})."),
            PublicAddresses = GatewayOptions.ParsePublicAddresses(publicIp?.Values ?? []),
            HttpPort = httpPort is >= 0 and <= 65535 ? httpPort : throw new UsageException($"--http-port must be between 0 (none) and 65535 (got {httpPort})."),
            PeerGateways = ParsePeerGateways(peerGateway?.Values ?? []),
            CustomDomains = new CustomDomainOptions
            {
                Resolver = resolver is null ? null : ParseResolver(resolver),
                CheckInterval = domainCheckSeconds is >= 1 and <= 86400 ? TimeSpan.FromSeconds(domainCheckSeconds) : throw new UsageException("--domain-check-seconds must be between 1 and 86400."),
                Challenge = acmeChallenge switch
                {
                    null => httpPort != 0 ? CustomDomainChallenge.Http01 : CustomDomainChallenge.TlsAlpn01,
                    "http-01" => CustomDomainChallenge.Http01,
                    "tls-alpn-01" => CustomDomainChallenge.TlsAlpn01,
                    _ => throw new UsageException($"--acme-challenge '{acmeChallenge}' is neither http-01 nor tls-alpn-01."),
                },
            },
        };
        if (options.HttpPort != 0 && (options.HttpPort == options.HttpsPort || options.HttpPort == options.TunnelPort || options.HttpPort == options.MetricsPort || options.HttpPort == options.RelayPort || options.HttpPort == options.DnsPort))
            throw new UsageException("--http-port must differ from --https-port, --tunnel-port, --metrics-port, --relay-port and --dns-port.");
        if (acmeChallenge is not null && options.Acme is null)
            throw new UsageException("--acme-challenge says how custom domains' certificates are obtained: give --acme-directory too.");
        if (options.CustomDomains.Challenge == CustomDomainChallenge.Http01 && options.Acme is not null && options.HttpPort == 0)
            throw new UsageException("--acme-challenge http-01 is answered on the plain-HTTP port: give --http-port.");
        if (options.PeerGateways.Count > 0 && options.HttpPort == 0)
            throw new UsageException("--peer-gateway passes HTTP-01 challenges between the gateways' plain-HTTP ports: give --http-port too.");
        if (options.PeerGateways.Count > 0 && options.CustomDomains.Challenge == CustomDomainChallenge.TlsAlpn01)
            throw new UsageException("--peer-gateway passes HTTP-01 challenges only; a TLS-ALPN-01 validation cannot be passed to the gateway that ordered: several gateways use --acme-challenge http-01.");
        if (resolver is not null && !options.ServesCustomDomains)
            throw new UsageException("--resolver checks custom domains, which need --acme-directory.");
        if (options.DnsPort != 0 && options.PublicAddresses.Count == 0)
            throw new UsageException("The DNS server (--dns-port) answers with this host's public addresses: give --public-ip ADDRESS (repeatable, IPv4 and IPv6).");
        if (options.DnsPort == 0 && options.PublicAddresses.Count > 0)
            throw new UsageException("--public-ip is what the DNS server answers: give --dns-port too (53 once the zone is delegated here).");
        if (options.DnsPort != 0 && (options.DnsPort == options.HttpsPort || options.DnsPort == options.TunnelPort || options.DnsPort == options.MetricsPort || options.DnsPort == options.RelayPort))
            throw new UsageException("--dns-port must differ from --https-port, --tunnel-port, --metrics-port and --relay-port.");
        if (options.RelayPort != 0 && (options.RelayPort == options.HttpsPort || options.RelayPort == options.TunnelPort || options.RelayPort == options.MetricsPort))
            throw new UsageException("--relay-port must differ from --https-port, --tunnel-port and --metrics-port.");
        await using var server = GatewayServer.Create(options);
        await server.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Print the SHA-256 key pin of a certificate (or of the self-signed one), for providers' --gateway-pin.</summary>
    /// <param name="cert">PEM certificate file; default: the self-signed certificate in the state folder.</param>
    public void Pin(string? cert = null)
    {
        string file = cert ?? SelfSignedPaths(PeerComputeHome.Resolve().GatewayStateFolder).Certificate;
        if (!File.Exists(file))
            throw new CliException($"No certificate at {file}. Give --cert FILE, or start the gateway once with --self-signed.");
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(file));
            Console.Out.WriteLine(CertificatePin.FromCertificate(certificate).ToString());
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new CliException($"{file} is not a PEM certificate: {e.Message}");
        }
    }

    /// <summary>Print the PeerId of this gateway's relay (made on first use, kept in the state folder as relay.key): providers reserve on it, users dial through it.</summary>
    public void Id()
    {
        var home = PeerComputeHome.Resolve();
        home.EnsureExists();
        string file = Path.Combine(home.GatewayStateFolder, "relay.key");
        try
        {
            Console.Out.WriteLine(IdentityStore.LoadOrCreate(file).PeerId.ToString());
        }
        catch (Exception e) when (e is IdentityException or IOException or UnauthorizedAccessException)
        {
            throw new CliException(e.Message);
        }
    }

    /// <summary>Print the hostname tag of a provider: its deployments are served as NAME-TAG.DOMAIN.</summary>
    /// <param name="peerId">PEER-ID: The provider's PeerId (12D3KooW…).</param>
    public void Tag([Argument] string peerId)
    {
        if (!PeerId.TryParse(peerId.Trim(), out var id))
            throw new UsageException($"'{peerId}' is not a peer id (expected 12D3KooW…).");
        Console.Out.WriteLine(TunnelHostname.TagFor(id));
    }

    internal static (string Certificate, string Key) SelfSignedPaths(string stateFolder) =>
        (Path.Combine(stateFolder, "self-signed.crt"), Path.Combine(stateFolder, "self-signed.key"));

    /// <summary>--peer-gateway values: http:// (or https://) URLs with a host, no path, query or user; each once.</summary>
    internal static List<Uri> ParsePeerGateways(IEnumerable<string> values)
    {
        var peers = new List<Uri>();
        foreach (string raw in values)
        {
            string value = raw.Trim();
            if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
                throw new UsageException($"--peer-gateway '{value}' is not an http:// URL of another gateway's --http-port (e.g. http://gw2.example.org:80).");
            if (url.AbsolutePath != "/" || url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0)
                throw new UsageException($"--peer-gateway '{value}' names a path, query or user: give only http://HOST:PORT.");
            var root = new Uri(url.GetLeftPart(UriPartial.Authority) + "/");
            if (!peers.Contains(root))
                peers.Add(root);
        }
        return peers;
    }

    /// <summary>A --resolver value: an IP address with an optional port (53 when none), IPv6 in brackets when it has one.</summary>
    internal static IPEndPoint ParseResolver(string value)
    {
        if (IPAddress.TryParse(value, out var address))
            return new IPEndPoint(address, 53);
        if (IPEndPoint.TryParse(value, out var endpoint) && endpoint.Port != 0)
            return endpoint;
        throw new UsageException($"--resolver '{value}' is not an IP address or ADDRESS:PORT (a resolver is named by address, not by name).");
    }

    private static Acme.AcmeOptions? AcmeOptionsFrom(string? directory, string? email, string? ca, int retrySeconds, string? cert, string? key, bool selfSigned, int dnsPort)
    {
        if (directory is null)
        {
            if (email is not null || ca is not null)
                throw new UsageException("--acme-email and --acme-ca go with --acme-directory URL.");
            return null;
        }
        if (!Uri.TryCreate(directory, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps)
            throw new UsageException($"--acme-directory '{directory}' is not an https:// URL.");
        if (selfSigned)
            throw new UsageException("--acme-directory obtains the certificate itself: leave out --self-signed (or give --cert/--key, and ACME serves custom domains only).");
        if (cert is null && dnsPort == 0)
            throw new UsageException("--acme-directory proves the wildcard name with DNS-01 through the gateway's own DNS server: give --dns-port and --public-ip.");
        if (email is null || !email.Contains('@', StringComparison.Ordinal) || email.Any(char.IsWhiteSpace))
            throw new UsageException("--acme-directory needs --acme-email ADDRESS (the CA's contact for the account).");
        if (ca is not null && !File.Exists(ca))
            throw new UsageException($"--acme-ca {ca}: no such file.");
        if (retrySeconds is < 1 or > 86400)
            throw new UsageException("--acme-retry-seconds must be between 1 and 86400.");
        return new Acme.AcmeOptions { Directory = url, Email = email, TrustedRootFile = ca, RetryDelay = TimeSpan.FromSeconds(retrySeconds) };
    }

    private static GatewayOptions BuildOptions(string domain, int httpsPort, int tunnelPort, string? listen, double rateLimit, double? rateBurst,
        string? cert, string? key, bool selfSigned, RepeatedOption? trustProvider, bool open, int? metricsPort, int drainSeconds, Acme.AcmeOptions? acme)
    {
        string normalized;
        try
        {
            normalized = TunnelHostname.NormalizeDomain(domain);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message.Split(" (Parameter", 2)[0]);
        }
        foreach (var (name, port) in new[] { ("--https-port", httpsPort), ("--tunnel-port", tunnelPort), ("--metrics-port", metricsPort ?? 1) })
            if (port is < 1 or > 65535)
                throw new UsageException($"{name} must be between 1 and 65535 (got {port}).");
        if (httpsPort == tunnelPort || metricsPort == httpsPort || metricsPort == tunnelPort)
            throw new UsageException("--https-port, --tunnel-port and --metrics-port must differ.");
        // A gateway that lets in any provider, or has no real certificate, is a local trial until the operator names an address.
        IPAddress? address;
        if (listen is null)
            address = open || selfSigned ? IPAddress.Loopback : IPAddress.IPv6Any;
        else if (!IPAddress.TryParse(listen, out address))
            throw new UsageException($"--listen '{listen}' is not an IP address.");
        if (rateLimit <= 0 || rateBurst is < 1)
            throw new UsageException("--rate-limit must be positive and --rate-burst at least 1.");
        if (drainSeconds is < 0 or > 3600)
            throw new UsageException("--drain-seconds must be between 0 and 3600.");
        if (selfSigned && (cert is not null || key is not null))
            throw new UsageException("Give either --cert FILE --key FILE, or --self-signed, not both.");
        if ((cert is null) != (key is null))
            throw new UsageException("--cert and --key go together.");
        if (!selfSigned && acme is null && (cert is null || key is null))
            throw new UsageException("A certificate is needed: --cert FILE --key FILE (a wildcard for *.DOMAIN), or --self-signed for local use.");
        var trusted = GatewayOptions.ParseTrustedProviders(trustProvider?.Values ?? []);
        if (!open && trusted.Count == 0)
            throw new UsageException("No provider could connect: give --trust-provider PEERID (or a file of them), or --open.");

        var home = PeerComputeHome.Resolve();
        home.EnsureExists();
        string stateFolder = home.GatewayStateFolder;
        if (selfSigned)
        {
            Directory.CreateDirectory(stateFolder);
            (cert, key) = SelfSignedPaths(stateFolder);
            try
            {
                CertificateFiles.EnsureSelfSigned(cert, key, normalized);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot write the self-signed certificate in {stateFolder}: {e.Message}");
            }
        }
        bool acmeWildcard = acme is not null && cert is null;
        if (acmeWildcard)
        {
            try
            {
                Acme.AcmeCertificates.EnsureStandIn(stateFolder, normalized);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot write the stand-in certificate in {stateFolder}: {e.Message}");
            }
            (_, cert, key) = Acme.AcmeOptions.Files(stateFolder);
        }
        return new GatewayOptions
        {
            Acme = acme,
            AcmeWildcard = acmeWildcard,
            Domain = normalized,
            ListenAddress = address,
            ListenDefaulted = listen is null,
            HttpsPort = httpsPort,
            TunnelPort = tunnelPort,
            MetricsPort = metricsPort,
            CertificateFile = cert,
            KeyFile = key,
            SelfSigned = selfSigned,
            Open = open,
            TrustedProviders = trusted,
            RateLimit = new RateLimitOptions { RequestsPerSecond = rateLimit, Burst = rateBurst },
            StateFolder = stateFolder,
            DrainTimeout = TimeSpan.FromSeconds(drainSeconds),
        };
    }
}

using System.Net;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Gateway;

/// <summary>Everything the gateway was told on its command line, checked.</summary>
internal sealed record GatewayOptions
{
    public required string Domain { get; init; }
    public IPAddress ListenAddress { get; init; } = IPAddress.IPv6Any;

    /// <summary>True when <see cref="ListenAddress"/> was chosen by the gateway (no --listen), for the start-up line.</summary>
    public bool ListenDefaulted { get; init; }

    public int HttpsPort { get; init; } = 443;
    public int TunnelPort { get; init; } = 8443;
    public int? MetricsPort { get; init; }
    public string? CertificateFile { get; init; }
    public string? KeyFile { get; init; }
    public bool SelfSigned { get; init; }
    public bool Open { get; init; }
    public IReadOnlySet<PeerId> TrustedProviders { get; init; } = new HashSet<PeerId>();
    public RateLimitOptions RateLimit { get; init; } = new();

    /// <summary>Port of the libp2p relay (circuit relay v2) on <see cref="ListenAddress"/>; 0: no relay.</summary>
    public int RelayPort { get; init; } = 4001;

    /// <summary>The relay's limits; who may reserve is filled in from <see cref="Open"/> and <see cref="TrustedProviders"/>.</summary>
    public PeerCompute.Net.Relay.CircuitRelayOptions Relay { get; init; } = new();

    /// <summary>The relay's own key (its PeerId is what providers and users name in relayed addresses).</summary>
    public string RelayKeyFile => Path.Combine(StateFolder, "relay.key");

    /// <summary>
    /// Public requests one client (IPv4 address, IPv6 /64) may have open at once; each holds a tunnel stream. A small
    /// part of a tunnel's <see cref="TunnelMaxStreams"/>, so one client cannot take them all; many viewers from distinct
    /// clients each take one.
    /// </summary>
    public int MaxRequestsPerClient { get; init; } = 128;

    /// <summary>Streams (open public requests) one provider's tunnel carries at once; beyond it a request gets 503.</summary>
    public int TunnelMaxStreams { get; init; } = TunnelLimits.MaxStreams;

    /// <summary>Receive window one tunnel may hold, all its streams together: what a provider can make the gateway buffer.</summary>
    public long TunnelReceiveBudget { get; init; } = TunnelLimits.ReceiveBudget;
    public required string StateFolder { get; init; }

    /// <summary>Hostname tags remembered at most (hostnames.json); beyond it the tag unused for longest is forgotten.</summary>
    public int MaxHostnameBindings { get; init; } = HostnameBindings.DefaultMaxBindings;

    /// <summary>How often the certificate files are checked for a renewal.</summary>
    public TimeSpan CertificatePollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>On shutdown, in-flight requests and tunnels get this long.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A client must send its request headers within this time (slowloris).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Tunnel-port handshakes in progress from one address (IPv6: /64) at most.</summary>
    public int TunnelHandshakesPerAddress { get; init; } = 8;

    /// <summary>A provider's TLS and authentication on the tunnel port must finish within this time.</summary>
    public TimeSpan TunnelHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A new tunnel-port connection must send its first byte within this time.</summary>
    public TimeSpan TunnelFirstByteTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>TLS handshakes of public clients must finish within this time.</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Client connections at once; beyond it new ones are refused.</summary>
    public long MaxConnections { get; init; } = 20_000;

    /// <summary>An idle keep-alive connection is closed after this time.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A container must begin its answer within this time, or the client gets 503. Bounds requests whose container
    /// accepted the connection and then said nothing (an overloaded listen backlog behind docker-proxy, a stuck process).
    /// </summary>
    public TimeSpan ResponseHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Connections to one deployment (hostname label) at once, each one tunnel stream kept open across requests;
    /// further requests to it wait for one to be free. Bounds what one deployment's pool takes of its tunnel's streams
    /// (a quarter of the default 4096), while leaving room for hundreds of long requests (event streams, WebSockets).
    /// </summary>
    public int UpstreamConnectionsPerHost { get; init; } = 1024;

    /// <summary>A connection to a container idle this long is closed (its tunnel stream given back); zero: no keep-alive.</summary>
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>After a busy spell, memory is given back once no request has come for this long.</summary>
    public TimeSpan IdleTrimInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A request is abandoned (504) when its container sends nothing for this long.</summary>
    public TimeSpan UpstreamActivityTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>UDP and TCP port of the authoritative DNS server for <see cref="Domain"/> on <see cref="ListenAddress"/>; 0: none.</summary>
    public int DnsPort { get; init; }

    /// <summary>The addresses the DNS server gives for every name in the zone (--public-ip).</summary>
    public IReadOnlyList<IPAddress> PublicAddresses { get; init; } = [];

    /// <summary>Certificates from an ACME CA (--acme-directory); null: the certificate comes from files or is self-signed.</summary>
    public Acme.AcmeOptions? Acme { get; init; }

    /// <summary>Port of the plain-HTTP listener (ACME HTTP-01 challenges; everything else is redirected to HTTPS); 0: none.</summary>
    public int HttpPort { get; init; }

    /// <summary>Custom domains' DNS checks and their pace (--resolver, --domain-check-seconds).</summary>
    public CustomDomainOptions CustomDomains { get; init; } = new();

    /// <summary>Custom domains need certificates for names outside the zone: ACME with HTTP-01 (a plain-HTTP listener) or TLS-ALPN-01.</summary>
    public bool ServesCustomDomains => Acme is not null && (HttpPort != 0 || CustomDomains.Challenge == CustomDomainChallenge.TlsAlpn01);

    /// <summary>
    /// Whether ACME obtains the gateway's own wildcard certificate (DNS-01); false when --cert/--key give it and ACME
    /// serves custom domains only (a second gateway of a zone, beside the issuer).
    /// </summary>
    public bool AcmeWildcard { get; init; }

    /// <summary>Other gateways of the zone (--peer-gateway), asked for HTTP-01 tokens this one does not hold.</summary>
    public IReadOnlyList<Uri> PeerGateways { get; init; } = [];

    /// <summary>How peer gateways are asked (timeout, relays at once).</summary>
    public ChallengePeerOptions ChallengePeers { get; init; } = new();

    /// <summary>The DNS server's limits (rate per source, TCP connections).</summary>
    public PeerCompute.Net.Dns.AuthoritativeDnsOptions Dns { get; init; } = new();

    /// <summary>Whether <paramref name="provider"/> may open a tunnel and reserve on the relay: anyone with --open, else those trusted.</summary>
    public bool MayReserve(PeerId provider) => Open || TrustedProviders.Contains(provider);

    /// <summary>
    /// Reads the <c>--trust-provider</c> values: each is a PeerId, or a file with one PeerId per line
    /// (blank lines and <c>#</c> comments ignored).
    /// </summary>
    public static List<IPAddress> ParsePublicAddresses(IEnumerable<string> values)
    {
        var addresses = new List<IPAddress>();
        foreach (string raw in values)
        {
            string value = raw.Trim();
            if (value.Length == 0)
                continue;
            if (!IPAddress.TryParse(value, out var address) || address.AddressFamily is not (System.Net.Sockets.AddressFamily.InterNetwork or System.Net.Sockets.AddressFamily.InterNetworkV6))
                throw new UsageException($"--public-ip '{value}' is not an IPv4 or IPv6 address.");
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
                throw new UsageException($"--public-ip '{value}' is the any-address: give the address visitors reach this host at.");
            if (!addresses.Contains(address))
                addresses.Add(address);
        }
        if (addresses.Count > PeerCompute.Net.Dns.DnsZone.MaxAddresses)
            throw new UsageException($"--public-ip is given {addresses.Count} times; at most {PeerCompute.Net.Dns.DnsZone.MaxAddresses}.");
        return addresses;
    }

    public static HashSet<PeerId> ParseTrustedProviders(IEnumerable<string> values)
    {
        var trusted = new HashSet<PeerId>();
        foreach (string raw in values)
        {
            string value = raw.Trim();
            if (value.Length == 0)
                continue;
            if (PeerId.TryParse(value, out var id))
            {
                trusted.Add(id);
                continue;
            }
            if (!File.Exists(value))
                throw new UsageException($"--trust-provider '{value}' is neither a peer id (12D3KooW…) nor a file of peer ids.");
            int lineNumber = 0;
            foreach (string line in File.ReadLines(value))
            {
                lineNumber++;
                string entry = line.Split('#', 2)[0].Trim();
                if (entry.Length == 0)
                    continue;
                if (!PeerId.TryParse(entry, out var fromFile))
                    throw new UsageException($"{value}:{lineNumber}: '{entry}' is not a peer id.");
                trusted.Add(fromFile);
            }
        }
        return trusted;
    }
}

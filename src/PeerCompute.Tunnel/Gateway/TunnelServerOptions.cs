using System.Net;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>The gateway's tunnel listener: who may connect and every limit, with defaults.</summary>
public sealed record TunnelServerOptions
{
    /// <summary>The public domain; hostnames are <c>name-tag.Domain</c>.</summary>
    public string Domain { get; init; } = "peercompute.xdastechnology.com";

    /// <summary>The public HTTPS port, told to providers so they can print their URLs.</summary>
    public int HttpsPort { get; init; } = 443;

    /// <summary>Where providers connect (port 8443 on every address by default, --tunnel-port).</summary>
    public IPEndPoint TunnelEndPoint { get; init; } = new(IPAddress.IPv6Any, 8443);

    /// <summary>Accept any provider that proves its identity (<c>--open</c>).</summary>
    public bool Open { get; init; }

    /// <summary>The gateway's relay, offered to providers in the welcome (tunnel version 2 on); null: none.</summary>
    public Protocol.RelayOffer? Relay { get; init; }

    /// <summary>Providers accepted when not <see cref="Open"/> (<c>--trust-provider</c>).</summary>
    public IReadOnlySet<PeerId> TrustedProviders { get; init; } = new HashSet<PeerId>();

    /// <summary>TLS and authentication must finish within this time, or the connection is dropped (slow or stuck clients).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connections in TLS or authentication at once; beyond it new ones are closed at once.</summary>
    public int MaxPendingHandshakes { get; init; } = 128;

    /// <summary>
    /// Of those, from one address (IPv4) or /64 (IPv6) at most; beyond it that address's new connections are closed at
    /// once, so one address cannot take the slots providers need to reconnect.
    /// </summary>
    public int MaxPendingHandshakesPerAddress { get; init; } = 8;

    /// <summary>A new connection must send its first byte (the TLS ClientHello) within this time: idle ones free their slot soon.</summary>
    public TimeSpan FirstByteTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Connected providers at most.</summary>
    public int MaxTunnels { get; init; } = 10_000;

    /// <summary>Hostnames one provider may serve.</summary>
    public int MaxRoutesPerProvider { get; init; } = 256;

    /// <summary>The gateway pings every tunnel this often.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A tunnel that sent nothing for this long is dropped (half-open connections included).</summary>
    public TimeSpan DeadLinkTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The provider must answer a route header (connect to its container) within this time.</summary>
    public TimeSpan RouteOpenTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On shutdown, in-flight requests get this long after GoAway.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Multiplexer limits per tunnel: see <see cref="TunnelLimits"/> (<c>--tunnel-max-streams</c>,
    /// <c>--tunnel-receive-budget-mib</c>). The read buffer is kept small: a gateway holds thousands of mostly idle
    /// tunnels, and TLS records are at most 16 KiB anyway. The provider opens one control stream at a time.
    /// </summary>
    public YamuxOptions Yamux { get; init; } = WithGatewayDefaults(TunnelLimits.Yamux());

    /// <summary>Custom domains the routes may carry (tunnel protocol version 4); null: the gateway serves none and refuses them.</summary>
    public DomainClaims? Domains { get; init; }

    /// <summary>Where the custom domains stand, for providers that ask (tunnel protocol version 5); null: every domain is unknown.</summary>
    public IDomainStatusSource? DomainStatus { get; init; }

    /// <summary>The gateway's fixed choices on top of a tunnel's limits.</summary>

    public static YamuxOptions WithGatewayDefaults(YamuxOptions limits) => limits with { ReadBufferSize = 16 * 1024, AcceptBacklog = 16 };

    internal void Validate()
    {
        if (HttpsPort is <= 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(HttpsPort), "1-65535");
        if (HandshakeTimeout <= TimeSpan.Zero || FirstByteTimeout <= TimeSpan.Zero || MaxPendingHandshakes < 1 || MaxPendingHandshakesPerAddress < 1 || MaxTunnels < 1 || MaxRoutesPerProvider < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxTunnels), "limits must be positive");
        if (KeepAliveInterval <= TimeSpan.Zero || DeadLinkTimeout <= KeepAliveInterval)
            throw new ArgumentOutOfRangeException(nameof(DeadLinkTimeout), "the dead-link timeout must exceed the keepalive interval");
    }
}

using PeerCompute.Mux;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Tunnel.Client;

/// <summary>Where the provider's tunnel goes and every limit it keeps, with defaults.</summary>
public sealed record TunnelClientOptions
{
    /// <summary>The tunnel protocol versions offered; tests lower it to play a provider talking to an older gateway.</summary>
    internal Protocol.TunnelVersions Versions { get; init; } = Protocol.TunnelHandshake.Versions;

    /// <summary>The gateway's host name or IP address.</summary>
    public required string GatewayHost { get; init; }

    /// <summary>The gateway's tunnel port (8443 by default, as the gateway's --tunnel-port).</summary>
    public int GatewayPort { get; init; } = 8443;

    /// <summary>The name checked against the gateway certificate and sent as SNI; defaults to <see cref="GatewayHost"/>.</summary>
    public string? ServerName { get; init; }

    /// <summary>A PEM file of CA certificates to trust instead of the system roots (<c>--gateway-ca</c>).</summary>
    public string? CaFile { get; init; }

    /// <summary>
    /// The gateway's key pin (<c>--gateway-pin</c>): when set, the certificate is accepted if and only if its public key
    /// matches, whatever its chain and names (for self-signed gateways).
    /// </summary>
    public CertificatePin? Pin { get; init; }

    /// <summary>First wait before reconnecting; doubles per failed attempt up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between reconnection attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A session that lasted this long resets the backoff (so a flapping gateway is not hammered).</summary>
    public TimeSpan StableSession { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TCP connect plus TLS plus authentication must finish within this time.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A ping is sent this often on the tunnel.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The tunnel is declared dead and replaced when nothing at all arrived for this long (half-open TCP included).</summary>
    public TimeSpan DeadLinkTimeout { get; init; } = TimeSpan.FromSeconds(12);

    /// <summary>How long the container gets to accept a connection before the gateway is told it is unavailable (503).</summary>
    public TimeSpan UpstreamConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The gateway must send a route header within this time after opening a stream.</summary>
    public TimeSpan RouteHeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On shutdown, in-flight requests get this long to finish after GoAway.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes copied per read when splicing a stream to its container.</summary>
    public int SpliceBufferSize { get; init; } = 64 * 1024;

    /// <summary>
    /// After a route moved (an update), how long a kept connection to the old endpoint must have been quiet, with no
    /// request waiting for its answer, before it is closed (the gateway then opens a new one, to the new endpoint).
    /// </summary>
    public TimeSpan DrainQuiet { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a draining connection is looked at.</summary>
    public TimeSpan DrainPoll { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The clock of the drain (tests may pass their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Multiplexer limits; keepalive and dead-link values above override the ones in here. The stream ceiling matches
    /// the gateway's default (<see cref="TunnelLimits"/>): every stream beyond it would be reset here.
    /// </summary>
    public YamuxOptions Yamux { get; init; } = TunnelLimits.Yamux();

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(GatewayHost))
            throw new ArgumentException("The gateway host is required.", nameof(GatewayHost));
        if (GatewayPort is <= 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(GatewayPort), "1-65535");
        if (InitialBackoff <= TimeSpan.Zero || MaxBackoff < InitialBackoff)
            throw new ArgumentOutOfRangeException(nameof(MaxBackoff), "the backoff must be positive and the cap at least the first wait");
        if (KeepAliveInterval <= TimeSpan.Zero || DeadLinkTimeout <= KeepAliveInterval)
            throw new ArgumentOutOfRangeException(nameof(DeadLinkTimeout), "the dead-link timeout must exceed the keepalive interval");
        if (SpliceBufferSize < 1024)
            throw new ArgumentOutOfRangeException(nameof(SpliceBufferSize), "at least 1024");
    }
}

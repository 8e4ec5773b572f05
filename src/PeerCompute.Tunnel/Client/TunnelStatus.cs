using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Client;

public enum TunnelState
{
    /// <summary>Not started yet, or between attempts.</summary>
    Disconnected,
    Connecting,
    /// <summary>Authenticated, multiplexed, routes sent.</summary>
    Connected,
    /// <summary>The client was stopped.</summary>
    Stopped,
}

/// <summary>The gateway's libp2p relay: its PeerId and the addresses (ending in <c>/p2p/&lt;relay&gt;</c>) to reserve on.</summary>
public sealed record GatewayRelay(PeerCompute.Core.Identity.PeerId PeerId, IReadOnlyList<PeerCompute.Core.Multiformats.Multiaddr> Addresses);

/// <summary>A snapshot of the tunnel, for <c>peerctl status</c> and logs.</summary>
/// <param name="Domain">The gateway's domain, once a handshake told it (kept while disconnected).</param>
/// <param name="HttpsPort">The gateway's public HTTPS port, likewise.</param>
/// <param name="Routes">The gateway's last answer per hostname label.</param>
/// <param name="Attempt">Failed attempts since the last stable session.</param>
public sealed record TunnelStatus(
    TunnelState State,
    string? LastError,
    string? Domain,
    int HttpsPort,
    DateTimeOffset? ConnectedSince,
    int Attempt,
    IReadOnlyDictionary<string, RouteResult> Routes)
{
    /// <summary>The relay the gateway offered in its last welcome (kept while disconnected); null: it offers none.</summary>
    public GatewayRelay? Relay { get; init; }

    public static TunnelStatus Initial { get; } = new(TunnelState.Disconnected, null, null, 0, null, 0, new Dictionary<string, RouteResult>());
}

using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>Every limit and timeout of a <see cref="Libp2pHost"/>, with defaults.</summary>
public sealed record Libp2pHostOptions
{
    /// <summary>The transport's connect plus the whole upgrade (multistream, Noise, muxer) must finish within this.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Protocol negotiation on a new stream, both roles.</summary>
    public TimeSpan StreamNegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Inbound connections (upgrading or open) at once; more are closed as soon as they are accepted.</summary>
    public int MaxInboundConnections { get; init; } = 256;

    /// <summary>Addresses remembered per peer (from dials and identify); the oldest goes when a new one comes.</summary>
    public int MaxAddressesPerPeer { get; init; } = 16;

    /// <summary>Sent in identify.</summary>
    public string AgentVersion { get; init; } = "peercompute/0.1.0";

    /// <summary>Sent in identify.</summary>
    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>Run identify on every new connection (as js-libp2p does).</summary>
    public bool IdentifyOnConnect { get; init; } = true;

    /// <summary>Settings of every connection's yamux session.</summary>
    public YamuxOptions Yamux { get; init; } = new();
}

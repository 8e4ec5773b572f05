using PeerCompute.Core.Identity;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>Every limit and timeout of a <see cref="Libp2pHost"/>, with defaults.</summary>
public sealed record Libp2pHostOptions
{
    /// <summary>The transport's connect plus the whole upgrade (multistream, Noise, muxer) must finish within this.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Protocol negotiation on a new stream, both roles.</summary>
    public TimeSpan StreamNegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Inbound connections (in their handshake or open) at once; more are closed as soon as they are accepted. Of these,
    /// strangers can hold at most <see cref="MaxPendingInboundConnections"/> + <see cref="MaxUntrustedConnections"/>:
    /// the rest is room only trusted peers (<see cref="IsTrusted"/>) can take.
    /// </summary>
    public int MaxInboundConnections { get; init; } = 256;

    /// <summary>Inbound connections still in their handshake (before Noise has proven who the peer is) at once.</summary>
    public int MaxPendingInboundConnections { get; init; } = 64;

    /// <summary>Of those, from one address (IPv4) or /64 (IPv6); beyond it that address's new connections are closed at once.</summary>
    public int MaxPendingInboundPerAddress { get; init; } = 8;

    /// <summary>Open inbound connections of peers that are not trusted; one more is closed right after its handshake.</summary>
    public int MaxUntrustedConnections { get; init; } = 128;

    /// <summary>Of those, from one address (IPv4) or /64 (IPv6).</summary>
    public int MaxUntrustedConnectionsPerAddress { get; init; } = 8;

    /// <summary>An inbound connection of an untrusted peer with no stream open for this long is closed.</summary>
    public TimeSpan UntrustedIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Who may use the room reserved for trusted peers, and is exempt from the untrusted limits; asked once per inbound
    /// connection, right after its handshake, and for each peer the address book takes in. Null: nobody is trusted.
    /// </summary>
    public Func<PeerId, bool>? IsTrusted { get; init; }

    /// <summary>Addresses remembered per peer (from dials and identify); the oldest goes when a new one comes.</summary>
    public int MaxAddressesPerPeer { get; init; } = 16;

    /// <summary>Untrusted peers whose addresses the address book keeps; the one updated longest ago goes when a new one comes.</summary>
    public int MaxUntrustedPeersInAddressBook { get; init; } = 256;

    /// <summary>Sent in identify.</summary>
    public string AgentVersion { get; init; } = "peercompute/0.1.0";

    /// <summary>Sent in identify.</summary>
    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>Run identify on every new connection (as js-libp2p does).</summary>
    public bool IdentifyOnConnect { get; init; } = true;

    /// <summary>
    /// Outgoing TCP connections leave from the port the host listens on (SO_REUSEPORT), so a NAT in front of it maps them
    /// to the public port peers observe: hole punching needs it. Another process of the same user could then bind the
    /// same port too; Noise still proves every peer, so such a process could only take connections away, not read them.
    /// </summary>
    public bool ReuseListenPort { get; init; }

    /// <summary>
    /// DCUtR (<c>/libp2p/dcutr</c>): a relayed connection is upgraded to a direct one by a synchronised TCP simultaneous
    /// open, both roles. Implies <see cref="ReuseListenPort"/>.
    /// </summary>
    public bool EnableHolePunching { get; init; }

    /// <summary>Tries of one hole punch (the spec's 3), each a CONNECT/SYNC exchange and a simultaneous dial.</summary>
    public int HolePunchAttempts { get; init; } = 3;

    /// <summary>How long the simultaneous dial of one try may take before the next.</summary>
    public TimeSpan HolePunchDialTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Settings of every connection's yamux session.</summary>
    public YamuxOptions Yamux { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first limit that is out of range.</summary>
    public void Validate()
    {
        static void AtLeastOne(int value, string name)
        {
            if (value < 1)
                throw new ArgumentException($"{name} must be at least 1 (it is {value}).", name);
        }
        AtLeastOne(MaxInboundConnections, nameof(MaxInboundConnections));
        AtLeastOne(MaxPendingInboundConnections, nameof(MaxPendingInboundConnections));
        AtLeastOne(MaxPendingInboundPerAddress, nameof(MaxPendingInboundPerAddress));
        AtLeastOne(MaxUntrustedConnections, nameof(MaxUntrustedConnections));
        AtLeastOne(MaxUntrustedConnectionsPerAddress, nameof(MaxUntrustedConnectionsPerAddress));
        AtLeastOne(MaxAddressesPerPeer, nameof(MaxAddressesPerPeer));
        AtLeastOne(MaxUntrustedPeersInAddressBook, nameof(MaxUntrustedPeersInAddressBook));
        if (MaxPendingInboundConnections + MaxUntrustedConnections >= MaxInboundConnections)
            throw new ArgumentException(
                $"{nameof(MaxPendingInboundConnections)} ({MaxPendingInboundConnections}) + {nameof(MaxUntrustedConnections)} ({MaxUntrustedConnections}) " +
                $"must be below {nameof(MaxInboundConnections)} ({MaxInboundConnections}): the difference is the room kept for trusted peers.", nameof(MaxInboundConnections));
        if (UntrustedIdleTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(UntrustedIdleTimeout)} must be positive.", nameof(UntrustedIdleTimeout));
        if (HandshakeTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(HandshakeTimeout)} must be positive.", nameof(HandshakeTimeout));
    }

    /// <summary>Inbound connections only trusted peers can have: what strangers cannot take even all together.</summary>
    public int ReservedForTrusted => MaxInboundConnections - MaxPendingInboundConnections - MaxUntrustedConnections;
}

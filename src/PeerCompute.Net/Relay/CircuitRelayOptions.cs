using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Relay;

/// <summary>
/// The limits of a circuit relay v2 server (<see cref="CircuitRelayServer"/>), with defaults meant for a gateway whose
/// reservations go only to providers it trusts: a deploy with progress and an hour of <c>logs --follow</c> fit in one
/// circuit many times over, while a stranger who reaches a reserved provider still cannot use the relay as a free pipe
/// for long (the provider's own trust check closes such a connection at once).
/// </summary>
public sealed record CircuitRelayOptions
{
    /// <summary>Who may reserve (be reachable through this relay); others get <see cref="RelayStatus.PermissionDenied"/>.</summary>
    public Func<PeerId, bool> MayReserve { get; init; } = _ => false;

    /// <summary>Reservations held at once, all peers together; beyond it <see cref="RelayStatus.ResourceLimitExceeded"/>.</summary>
    public int MaxReservations { get; init; } = 1024;

    /// <summary>Reservations held at once from one IPv4 address or IPv6 /64 (each peer holds at most one: a new RESERVE refreshes it).</summary>
    public int MaxReservationsPerAddress { get; init; } = 16;

    /// <summary>Circuits open at once to one reserved peer.</summary>
    public int MaxCircuitsPerReservation { get; init; } = 64;

    /// <summary>How long a reservation lasts unless the peer renews it (its client renews well before).</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A circuit is closed after this long; null: no time limit.</summary>
    public TimeSpan? CircuitDuration { get; init; } = TimeSpan.FromHours(2);

    /// <summary>A circuit is closed once this many bytes went in one direction; null: no data limit.</summary>
    public long? CircuitDataBytes { get; init; } = 1L << 30;

    /// <summary>Bytes per second relayed to and from one reserved peer, all its circuits and both directions together; null: unlimited.</summary>
    public long? BytesPerSecondPerPeer { get; init; } = 32L << 20;

    /// <summary>The target of a CONNECT must accept the stop stream within this time, or the caller gets <see cref="RelayStatus.ConnectionFailed"/>.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Addresses given to reserving peers (where callers reach this relay); null: the host's listen addresses.</summary>
    public IReadOnlyList<Multiaddr>? AnnouncedAddresses { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        static void Positive(long value, string name)
        {
            if (value < 1)
                throw new ArgumentException($"{name} must be at least 1 (it is {value}).", name);
        }
        Positive(MaxReservations, nameof(MaxReservations));
        Positive(MaxReservationsPerAddress, nameof(MaxReservationsPerAddress));
        Positive(MaxCircuitsPerReservation, nameof(MaxCircuitsPerReservation));
        if (ReservationTtl < TimeSpan.FromSeconds(10))
            throw new ArgumentException($"{nameof(ReservationTtl)} must be at least 10 s.", nameof(ReservationTtl));
        if (CircuitDuration is { } duration && (duration < TimeSpan.FromSeconds(1) || duration.TotalSeconds > uint.MaxValue))
            throw new ArgumentException($"{nameof(CircuitDuration)} must be at least 1 s.", nameof(CircuitDuration));
        if (CircuitDataBytes is { } data)
            Positive(data, nameof(CircuitDataBytes));
        if (BytesPerSecondPerPeer is { } rate)
            Positive(rate, nameof(BytesPerSecondPerPeer));
        if (StopTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(StopTimeout)} must be positive.", nameof(StopTimeout));
    }

    /// <summary>The limit announced to both ends of every circuit; null when there is none.</summary>
    internal RelayLimit? CircuitLimit => CircuitDuration is null && CircuitDataBytes is null
        ? null
        : new RelayLimit(CircuitDuration is { } d ? (uint)Math.Ceiling(d.TotalSeconds) : null, CircuitDataBytes is { } b ? (ulong)b : null);
}

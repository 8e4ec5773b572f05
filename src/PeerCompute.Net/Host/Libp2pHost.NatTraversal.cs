using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.HolePunch;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Host;

// NAT traversal of the host: relay reservations, the addresses peers observe for it, and the dials of a hole punch.
public sealed partial class Libp2pHost
{
    /// <summary>Hole punching (DCUtR), when <see cref="Libp2pHostOptions.EnableHolePunching"/>; null otherwise.</summary>
    public HolePunchService? HolePunch { get; }

    /// <summary>Observed addresses to keep at most (the newest first).</summary>
    private const int MaxObservedAddresses = 8;

    /// <summary>
    /// Where peers see this host (identify's observed address from each peer that answered, newest first, direct TCP ones
    /// only): behind a NAT, its public address and the port it maps our listening port to.
    /// </summary>
    public IReadOnlyList<Multiaddr> ObservedAddresses
    {
        get
        {
            lock (_observed)
                return [.. _observed];
        }
    }

    /// <summary>The reservations this host holds on relays (one per relayed address it listens on), as they are now.</summary>
    public IReadOnlyList<RelayReservationState> RelayReservations
    {
        get
        {
            lock (_lock)
                return [.. _listeners.Select(l => l.Listener).OfType<RelayReservationListener>().Select(l => l.State)];
        }
    }

    private void RecordObserved(Multiaddr? observed)
    {
        if (observed is null || observed.IsRelayed || !observed.TryGetTcpTarget(out _, out _))
            return;
        var address = observed.WithoutPeerId();
        lock (_observed)
        {
            _observed.Remove(address);
            _observed.Insert(0, address);
            if (_observed.Count > MaxObservedAddresses)
                _observed.RemoveAt(_observed.Count - 1);
        }
    }

    /// <summary>
    /// One dial of a hole punch: TCP from the listening port to <paramref name="address"/>, then the upgrade in the role
    /// DCUtR gives (A the client, B the server, whoever's SYN went first); the peer must prove it is <paramref name="expected"/>.
    /// Not shared with other dials and not the pool's: the relayed connection to that peer exists already.
    /// </summary>
    internal async Task<Libp2pConnection> DialHolePunchedAsync(Multiaddr address, PeerId expected, bool asClient, CancellationToken cancellationToken)
    {
        var transport = _transports.OfType<TcpTransport>().FirstOrDefault(t => t.CanDial(address))
            ?? throw new NotSupportedException($"Cannot dial {address} directly.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, cancellationToken);
        timeout.CancelAfter(Options.HandshakeTimeout);
        TransportConnection? raw = null;
        try
        {
            raw = await transport.DialAsync(address, timeout.Token).ConfigureAwait(false);
            var (session, remote) = asClient
                ? await ConnectionUpgrader.UpgradeOutboundAsync(raw.Stream, _identity, expected, Options.Yamux, timeout.Token).ConfigureAwait(false)
                : await ConnectionUpgrader.UpgradeInboundAsync(raw.Stream, _identity, Options.Yamux,
                    peer => peer == expected ? null : $"the hole punch was with {expected}, not {peer}", timeout.Token).ConfigureAwait(false);
            var connection = new Libp2pConnection(session, remote, raw.RemoteAddress, raw.LocalAddress, isOutbound: asClient, Options.StreamNegotiationTimeout)
            {
                HolePunched = true,
            };
            Register(connection);
            return connection;
        }
        catch
        {
            raw?.Stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Listens through the relay at <paramref name="relay"/> (its address ending in <c>/p2p/&lt;relay&gt;</c>, with or without
    /// <c>/p2p-circuit</c>) and returns the reservation's first outcome: made, or why not. The listener keeps trying
    /// either way, until <see cref="StopListeningAsync"/> or disposal.
    /// </summary>
    public async Task<RelayReservationState> ListenThroughRelayAsync(Multiaddr relay, CancellationToken cancellationToken = default)
    {
        var circuit = relay.IsRelayed ? relay : Multiaddr.Parse(relay + "/p2p-circuit");
        var first = new TaskCompletionSource<RelayReservationState>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Watch(RelayReservationState state)
        {
            if (state.Address.Equals(circuit) && (state.IsReserved || state.LastError is not null))
                first.TrySetResult(state);
        }
        RelayReservationChanged += Watch;
        try
        {
            await ListenAsync(circuit, cancellationToken).ConfigureAwait(false);
            return await first.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            RelayReservationChanged -= Watch;
        }
    }
}

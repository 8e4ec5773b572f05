using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Limits;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.HolePunch;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Relay;
using PeerCompute.Mux;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Host;

/// <summary>
/// A libp2p host: listens and dials multiaddrs through its transports (TCP unless told otherwise, picked by address),
/// upgrades connections (multistream, Noise, yamux), keeps one connection per peer for reuse, serves identify and ping,
/// and routes inbound streams to the handlers registered by protocol id. Unknown protocols are answered with <c>na</c>,
/// never a reset. The pieces: <see cref="ITransport"/>, <see cref="ConnectionUpgrader"/>, <see cref="ConnectionPool"/>,
/// <see cref="InboundAdmission"/> (the connection manager: room kept for trusted peers, limits per address for strangers,
/// whose idle connections are closed), <see cref="AddressBook"/>, <see cref="StreamRouter"/>.
/// </summary>
public sealed partial class Libp2pHost : IAsyncDisposable
{
    private readonly PeerIdentity _identity;
    private readonly IReadOnlyList<ITransport> _transports;
    private readonly CircuitTransport _circuits;
    private readonly ConnectionPool _pool;
    private readonly InboundAdmission _admission;
    private readonly AddressBook _addresses;
    private readonly StreamRouter _router;
    private readonly Lock _lock = new();
    private readonly List<(ITransportListener Listener, Task AcceptLoop)> _listeners = [];
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<Multiaddr> _observed = [];
    private bool _disposed;

    /// <param name="logger">Where a stream handler that throws is reported; none by default.</param>
    public Libp2pHost(PeerIdentity identity, Libp2pHostOptions? options = null, ILogger? logger = null)
        : this(identity, options, logger, [new TcpTransport { ReuseListenPort = options is { } o && (o.ReuseListenPort || o.EnableHolePunching) }])
    {
    }

    /// <param name="transports">Tried in order: the first that handles an address listens on or dials it.</param>
    internal Libp2pHost(PeerIdentity identity, Libp2pHostOptions? options, ILogger? logger, IReadOnlyList<ITransport> transports)
    {
        _identity = identity;
        Options = options ?? new Libp2pHostOptions();
        Options.Validate();
        var log = logger ?? NullLogger.Instance;
        _circuits = new CircuitTransport(this, log);
        _transports = [.. transports, _circuits];
        _pool = new ConnectionPool();
        var isTrusted = Options.IsTrusted ?? (_ => false);
        _admission = new InboundAdmission(Options, isTrusted);
        _addresses = new AddressBook(Options.MaxAddressesPerPeer, Options.MaxUntrustedPeersInAddressBook, address => _transports.Any(t => t.CanDial(address)), isTrusted);
        _router = new StreamRouter(Options.StreamNegotiationTimeout, log);
        _router.AddBuiltIn(IdentifyProtocol.ProtocolId, (stream, ct) => IdentifyProtocol.WriteAsync(stream.Stream, OwnIdentify(stream.Connection), ct));
        _router.AddBuiltIn(PingProtocol.ProtocolId, (stream, ct) => PingProtocol.RespondAsync(stream.Stream, ct));
        _router.AddBuiltIn(RelayProtocol.Stop, _circuits.HandleStopAsync);
        if (Options.EnableHolePunching)
        {
            HolePunch = new HolePunchService(this, isTrusted, log);
            _router.AddBuiltIn(HolePunchMessage.ProtocolId, HolePunch.HandleAsync);
            ConnectionOpened += HolePunch.OnConnection;
        }
    }


    public PeerId PeerId => _identity.PeerId;

    /// <summary>The host's own key (a relay signs reservation vouchers with it).</summary>
    internal PeerIdentity Identity => _identity;

    public Libp2pHostOptions Options { get; }

    /// <summary>A new connection is up (both directions), before identify.</summary>
    public event Action<Libp2pConnection>? ConnectionOpened;

    public event Action<Libp2pConnection>? ConnectionClosed;

    /// <summary>The peer answered identify on this connection.</summary>
    public event Action<Libp2pConnection, IdentifyMessage>? PeerIdentified;

    /// <summary>A reservation on a relay (a relayed listen address) was made, renewed or lost.</summary>
    public event Action<RelayReservationState>? RelayReservationChanged;

    /// <summary>An inbound connection failed before it was up (bad handshake, timeout, wrong protocol).</summary>
    public event Action<EndPoint?, Exception>? InboundConnectionFailed;

    /// <summary>The addresses we listen on (wildcards expanded to this machine's interface addresses), without <c>/p2p/</c>.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            lock (_lock)
                return [.. _listeners.SelectMany(l => l.Listener.ReachableAddresses)];
        }
    }

    /// <summary>Protocols served on inbound streams (identify and ping included).</summary>
    public IReadOnlyList<string> Protocols => _router.Protocols;

    public IReadOnlyList<Libp2pConnection> Connections => _pool.All;

    /// <summary>Inbound connections counted now: in their handshake, of trusted peers, of untrusted peers.</summary>
    public (int Pending, int Trusted, int Untrusted) InboundCounts => _admission.Counts;

    /// <summary>Peers the address book holds addresses for.</summary>
    internal int KnownPeerCount => _addresses.Count;

    /// <summary>The addresses the address book holds for <paramref name="peer"/>.</summary>
    internal List<Multiaddr> KnownAddresses(PeerId peer) => _addresses.Get(peer);

    public void SetStreamHandler(string protocol, Libp2pStreamHandler handler) => _router.SetHandler(protocol, handler);

    public bool RemoveStreamHandler(string protocol) => _router.RemoveHandler(protocol);

    /// <summary>
    /// Listens on <c>/ip4|ip6/&lt;address&gt;/tcp/&lt;port&gt;</c> (port 0 picks one), or through a relay on
    /// <c>&lt;relay address&gt;/p2p/&lt;relay&gt;/p2p-circuit</c> (a reservation kept there, renewed and re-made when lost);
    /// returns the bound address.
    /// </summary>
    public Task<Multiaddr> ListenAsync(Multiaddr address, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        var transport = _transports.FirstOrDefault(t => t.CanListen(address))
            ?? throw new ArgumentException($"Cannot listen on {address}: expected /ip4/<address>/tcp/<port>, /ip6/…/tcp/… or <relay address>/p2p/<relay>/p2p-circuit.", nameof(address));
        var listener = transport.Listen(address);
        if (listener is RelayReservationListener relayed)
        {
            relayed.Changed += state => Raise(() => RelayReservationChanged?.Invoke(state));
            if (relayed.State.IsReserved || relayed.State.LastError is not null)
                Raise(() => RelayReservationChanged?.Invoke(relayed.State));
        }
        lock (_lock)
            _listeners.Add((listener, Task.Run(() => AcceptLoopAsync(listener))));
        return Task.FromResult(listener.Address);
    }

    /// <summary>Stops listening on <paramref name="address"/> (as <see cref="ListenAsync"/> returned it); a relay reservation is let go. False when not listening there.</summary>
    public async Task<bool> StopListeningAsync(Multiaddr address)
    {
        (ITransportListener Listener, Task AcceptLoop) found;
        lock (_lock)
        {
            int index = _listeners.FindIndex(l => l.Listener.Address.Equals(address));
            if (index < 0)
                return false;
            found = _listeners[index];
            _listeners.RemoveAt(index);
        }
        await found.Listener.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Connects to <paramref name="address"/>; when it ends in <c>/p2p/&lt;id&gt;</c> the peer must prove that identity,
    /// and an existing connection to that peer is reused.
    /// </summary>
    public async Task<Libp2pConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var expected = address.PeerId;
        if (expected is null)
            return await DialNewAsync(address, null).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (expected == PeerId)
            throw new ArgumentException("A host cannot dial itself.", nameof(address));
        return await _pool.GetOrDial(expected, address, () => DialNewAsync(address, expected)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An open connection to <paramref name="peer"/>, or a new one through the addresses known for it.</summary>
    public async Task<Libp2pConnection> ConnectAsync(PeerId peer, CancellationToken cancellationToken = default)
    {
        if (_pool.Find(peer) is { } existing)
            return existing;
        var candidates = _addresses.Get(peer);
        if (candidates.Count == 0)
            throw new InvalidOperationException($"No address is known for {peer}.");
        Exception? last = null;
        foreach (var address in candidates)
        {
            try
            {
                return await DialAsync(address.WithPeerId(peer), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }
        throw new IOException($"Could not reach {peer}: {last!.Message}", last);
    }

    /// <summary>Remembers addresses for a peer (identify does this too), so <see cref="ConnectAsync"/> can dial it.</summary>
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses) => _addresses.Add(peer, addresses);

    public Libp2pConnection? GetConnection(PeerId peer) => _pool.Find(peer);

    public async Task<Libp2pStream> NewStreamAsync(PeerId peer, IReadOnlyList<string> protocols, CancellationToken cancellationToken = default)
    {
        var connection = await ConnectAsync(peer, cancellationToken).ConfigureAwait(false);
        return await connection.OpenStreamAsync(protocols, cancellationToken).ConfigureAwait(false);
    }

    public Task<Libp2pStream> NewStreamAsync(PeerId peer, string protocol, CancellationToken cancellationToken = default) =>
        NewStreamAsync(peer, [protocol], cancellationToken);

    public async Task<Libp2pStream> NewStreamAsync(Multiaddr address, string protocol, CancellationToken cancellationToken = default)
    {
        var connection = await DialAsync(address, cancellationToken).ConfigureAwait(false);
        return await connection.OpenStreamAsync(protocol, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Asks the peer on <paramref name="connection"/> who it is (its key, addresses and protocols).</summary>
    public async Task<IdentifyMessage> IdentifyAsync(Libp2pConnection connection, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var stream = await connection.OpenStreamAsync(IdentifyProtocol.ProtocolId, cancellationToken).ConfigureAwait(false);
            var message = await IdentifyProtocol.ReadAsync(stream.Stream, cancellationToken).ConfigureAwait(false);
            if (message.PublicKey is not null && PeerId.FromPublicKeyProtobuf(message.PublicKey) != connection.RemotePeer)
                throw new Libp2pProtocolException("identify: the public key does not belong to the connected peer");
            AddAddresses(connection.RemotePeer, message.ListenAddresses);
            RecordObserved(message.ObservedAddress);
            connection.SetIdentify(message);
            Raise(() => PeerIdentified?.Invoke(connection, message));
            return message;
        }
        catch (Exception e)
        {
            connection.SetIdentifyFailed(e);
            throw;
        }
    }

    /// <summary>One ping over a fresh stream to a connected (or reachable) peer; returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(PeerId peer, CancellationToken cancellationToken = default)
    {
        await using var stream = await NewStreamAsync(peer, PingProtocol.ProtocolId, cancellationToken).ConfigureAwait(false);
        return await PingProtocol.PingAsync(stream.Stream, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        List<(ITransportListener Listener, Task AcceptLoop)> listeners;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            listeners = [.. _listeners];
        }
        var connections = _pool.Close();
        foreach (var (listener, _) in listeners)
            await listener.DisposeAsync().ConfigureAwait(false);
        _shutdown.Cancel();
        await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(listeners.Select(l => l.AcceptLoop)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    // ---- connections ----

    private async Task<Libp2pConnection> DialNewAsync(Multiaddr address, PeerId? expected)
    {
        var transport = _transports.FirstOrDefault(t => t.CanDial(address))
            ?? throw new NotSupportedException($"Cannot dial {address}: only /ip4, /ip6, /dns, /dns4 and /dns6 with /tcp, and relayed addresses (…/p2p/<relay>/p2p-circuit/p2p/<peer>), are supported.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        timeout.CancelAfter(Options.HandshakeTimeout);
        TransportConnection? raw = null;
        try
        {
            raw = await transport.DialAsync(address, timeout.Token).ConfigureAwait(false);
            var (session, remote) = await ConnectionUpgrader.UpgradeOutboundAsync(raw.Stream, _identity, expected, Options.Yamux, timeout.Token).ConfigureAwait(false);
            var connection = new Libp2pConnection(session, remote, raw.RemoteAddress, raw.LocalAddress, isOutbound: true, Options.StreamNegotiationTimeout, raw.Stream as RelayedStream);
            AddAddresses(remote, [address]);
            Register(connection);
            return connection;
        }
        catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
        {
            raw?.Stream.Dispose();
            throw new TimeoutException($"Dialling {address} did not complete within {Options.HandshakeTimeout.TotalSeconds:0.#} s.");
        }
        catch
        {
            raw?.Stream.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync(ITransportListener listener)
    {
        while (!_shutdown.IsCancellationRequested)
        {
            TransportConnection raw;
            try
            {
                raw = await listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            if (_admission.TryAccept(AddressKeyOf(raw)) is not { } slot)
            {
                // Over a limit before a byte is read: closing costs nothing, and says nothing more to a stranger.
                await raw.DisposeAsync().ConfigureAwait(false);
                continue;
            }
            _ = Task.Run(() => HandleInboundAsync(raw, slot));
        }
    }

    /// <summary>Per-address limits count an IPv4 address or an IPv6 /64 (<see cref="AddressKey"/>).</summary>
    private static string AddressKeyOf(TransportConnection raw) =>
        raw.RemoteEndPoint is IPEndPoint endPoint ? AddressKey.For(endPoint.Address) : AddressKey.For(raw.RemoteAddress);

    private async Task HandleInboundAsync(TransportConnection raw, InboundAdmission.Slot slot)
    {
        using var held = slot;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, slot.Evicted);
            timeout.CancelAfter(Options.HandshakeTimeout);
            var (session, remote) = await ConnectionUpgrader.UpgradeInboundAsync(raw.Stream, _identity, Options.Yamux, slot.Admit, timeout.Token).ConfigureAwait(false);
            var connection = new Libp2pConnection(session, remote, raw.RemoteAddress, raw.LocalAddress, isOutbound: false, Options.StreamNegotiationTimeout, raw.Stream as RelayedStream);
            Register(connection);
            if (!slot.IsTrusted)
                _ = Task.Run(() => CloseWhenIdleAsync(connection));
            await session.Completion.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            if (!_shutdown.IsCancellationRequested)
                Raise(() => InboundConnectionFailed?.Invoke(raw.RemoteEndPoint, e));
        }
    }

    /// <summary>
    /// Closes an untrusted peer's connection once no stream has been open on it for <see cref="Libp2pHostOptions.UntrustedIdleTimeout"/>
    /// (checked a few times per timeout, so it goes within a quarter of the timeout after that, at most 5 s).
    /// </summary>
    private async Task CloseWhenIdleAsync(Libp2pConnection connection)
    {
        var timeout = Options.UntrustedIdleTimeout;
        var check = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond * 5));
        using var timer = new PeriodicTimer(check);
        try
        {
            while (!connection.IsClosed && await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                if (connection.IdleFor() >= timeout)
                {
                    connection.ClosedForIdleness = true;
                    await connection.DisposeAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Register(Libp2pConnection connection)
    {
        if (!_pool.TryAdd(connection))
        {
            _ = connection.DisposeAsync();
            return;
        }
        Raise(() => ConnectionOpened?.Invoke(connection));
        _ = Task.Run(() => ServeStreamsAsync(connection));
        if (Options.IdentifyOnConnect)
            _ = Task.Run(async () =>
            {
                try
                {
                    await IdentifyAsync(connection, _shutdown.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Recorded in connection.Identified; a peer without identify is still usable.
                }
            });
        _ = connection.Closed.ContinueWith(_ =>
        {
            _pool.Remove(connection);
            Raise(() => ConnectionClosed?.Invoke(connection));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>A subscriber that throws must not break the connection it is told about.</summary>
    private static void Raise(Action raise)
    {
        try
        {
            raise();
        }
        catch (Exception)
        {
        }
    }

    private async Task ServeStreamsAsync(Libp2pConnection connection)
    {
        try
        {
            while (await connection.Session.AcceptStreamAsync(_shutdown.Token).ConfigureAwait(false) is { } stream)
            {
                connection.MarkActive();
                _ = Task.Run(() => _router.HandleAsync(connection, stream, _shutdown.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private IdentifyMessage OwnIdentify(Libp2pConnection connection) => new(
        _identity.PublicKeyProtobuf,
        ListenAddresses,
        Protocols,
        connection.RemoteAddress,
        Options.ProtocolVersion,
        Options.AgentVersion);
}

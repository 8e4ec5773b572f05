using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Yamux;

namespace PeerCompute.Net.Host;

/// <summary>
/// A libp2p host over TCP: listens and dials multiaddrs, upgrades connections (multistream, Noise, yamux),
/// keeps one connection per peer for reuse, serves identify and ping, and routes inbound streams to the
/// handlers registered by protocol id. Unknown protocols are answered with <c>na</c>, never a reset.
/// </summary>
public sealed class Libp2pHost : IAsyncDisposable
{
    private const int MaxAddressesPerPeer = 16;
    private readonly PeerIdentity _identity;
    private readonly ConcurrentDictionary<string, Libp2pStreamHandler> _handlers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, List<Libp2pConnection>> _connections = [];
    private readonly Dictionary<PeerId, List<Multiaddr>> _addresses = [];
    private readonly Dictionary<PeerId, Task<Libp2pConnection>> _pendingDials = [];
    private readonly List<(Socket Socket, Multiaddr Address, Task AcceptLoop)> _listeners = [];
    private readonly CancellationTokenSource _shutdown = new();
    private int _inbound;
    private bool _disposed;

    public Libp2pHost(PeerIdentity identity, Libp2pHostOptions? options = null)
    {
        _identity = identity;
        Options = options ?? new Libp2pHostOptions();
    }

    public PeerId PeerId => _identity.PeerId;

    public Libp2pHostOptions Options { get; }

    /// <summary>A new connection is up (both directions), before identify.</summary>
    public event Action<Libp2pConnection>? ConnectionOpened;

    public event Action<Libp2pConnection>? ConnectionClosed;

    /// <summary>The peer answered identify on this connection.</summary>
    public event Action<Libp2pConnection, IdentifyMessage>? PeerIdentified;

    /// <summary>An inbound connection failed before it was up (bad handshake, timeout, wrong protocol).</summary>
    public event Action<EndPoint?, Exception>? InboundConnectionFailed;

    /// <summary>The addresses we listen on (wildcards expanded to this machine's interface addresses), without <c>/p2p/</c>.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            List<Multiaddr> result = [];
            lock (_lock)
            {
                foreach (var (socket, address, _) in _listeners)
                {
                    var endPoint = (IPEndPoint)socket.LocalEndPoint!;
                    if (endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any))
                        result.AddRange(InterfaceAddresses(endPoint.Address.AddressFamily).Select(ip => Multiaddr.FromEndPoint(new IPEndPoint(ip, endPoint.Port))));
                    else
                        result.Add(address);
                }
            }
            return result;
        }
    }

    /// <summary>Protocols served on inbound streams (identify and ping included).</summary>
    public IReadOnlyList<string> Protocols => [IdentifyProtocol.ProtocolId, PingProtocol.ProtocolId, .. _handlers.Keys.Order(StringComparer.Ordinal)];

    public IReadOnlyList<Libp2pConnection> Connections
    {
        get
        {
            lock (_lock)
                return [.. _connections.Values.SelectMany(list => list)];
        }
    }

    public void SetStreamHandler(string protocol, Libp2pStreamHandler handler)
    {
        if (protocol is IdentifyProtocol.ProtocolId or PingProtocol.ProtocolId || protocol.Length == 0 || protocol.Length >= MultistreamMessage.MaxLength)
            throw new ArgumentException($"'{protocol}' cannot be registered.", nameof(protocol));
        _handlers[protocol] = handler;
    }

    public bool RemoveStreamHandler(string protocol) => _handlers.TryRemove(protocol, out _);

    /// <summary>Listens on <c>/ip4|ip6/&lt;address&gt;/tcp/&lt;port&gt;</c> (port 0 picks one); returns the bound address.</summary>
    public Task<Multiaddr> ListenAsync(Multiaddr address, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!address.TryGetTcpTarget(out string host, out int port) || !IPAddress.TryParse(host, out var ip))
            throw new ArgumentException($"Cannot listen on {address}: expected /ip4/<address>/tcp/<port> or /ip6/…/tcp/….", nameof(address));
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var bound = Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!);
        lock (_lock)
            _listeners.Add((socket, bound, Task.Run(() => AcceptLoopAsync(socket))));
        return Task.FromResult(bound);
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
        Task<Libp2pConnection> dial;
        lock (_lock)
        {
            var existing = FindConnectionLocked(expected);
            if (existing is not null)
                return existing;
            if (!_pendingDials.TryGetValue(expected, out dial!))
            {
                dial = DialNewAsync(address, expected);
                _pendingDials[expected] = dial;
                _ = dial.ContinueWith(_ => { lock (_lock) _pendingDials.Remove(expected); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        return await dial.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An open connection to <paramref name="peer"/>, or a new one through the addresses known for it.</summary>
    public async Task<Libp2pConnection> ConnectAsync(PeerId peer, CancellationToken cancellationToken = default)
    {
        List<Multiaddr> candidates;
        lock (_lock)
        {
            var existing = FindConnectionLocked(peer);
            if (existing is not null)
                return existing;
            candidates = _addresses.TryGetValue(peer, out var known) ? [.. known] : [];
        }
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
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses)
    {
        lock (_lock)
        {
            if (!_addresses.TryGetValue(peer, out var list))
                _addresses[peer] = list = [];
            foreach (var address in addresses)
            {
                var plain = address.WithoutPeerId();
                if (!list.Contains(plain) && plain.TryGetTcpTarget(out _, out _))
                {
                    if (list.Count == MaxAddressesPerPeer)
                        list.RemoveAt(0);
                    list.Add(plain);
                }
            }
        }
    }

    public Libp2pConnection? GetConnection(PeerId peer)
    {
        lock (_lock)
            return FindConnectionLocked(peer);
    }

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
        List<Libp2pConnection> connections;
        List<Task> loops;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            connections = [.. _connections.Values.SelectMany(list => list)];
            loops = [.. _listeners.Select(l => l.AcceptLoop)];
            foreach (var (socket, _, _) in _listeners)
                socket.Dispose();
        }
        _shutdown.Cancel();
        await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    // ---- connections ----

    private async Task<Libp2pConnection> DialNewAsync(Multiaddr address, PeerId? expected)
    {
        if (!address.TryGetTcpTarget(out string host, out int port))
            throw new NotSupportedException($"Cannot dial {address}: only /ip4, /ip6, /dns, /dns4 and /dns6 with /tcp are supported.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        timeout.CancelAfter(Options.HandshakeTimeout);
        var ip = await ResolveAsync(address.Components[0].Protocol, host, timeout.Token).ConfigureAwait(false);
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? raw = null;
        try
        {
            await socket.ConnectAsync(ip, port, timeout.Token).ConfigureAwait(false);
            raw = new NetworkStream(socket, ownsSocket: true);
            var (session, remote) = await ConnectionUpgrader.UpgradeOutboundAsync(raw, _identity, expected, Options.Yamux, timeout.Token).ConfigureAwait(false);
            var connection = new Libp2pConnection(session, remote, Multiaddr.FromEndPoint((IPEndPoint)socket.RemoteEndPoint!),
                Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!), isOutbound: true, Options.StreamNegotiationTimeout);
            AddAddresses(remote, [address]);
            Register(connection);
            return connection;
        }
        catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
        {
            Close(raw, socket);
            throw new TimeoutException($"Dialling {address} did not complete within {Options.HandshakeTimeout.TotalSeconds:0.#} s.");
        }
        catch
        {
            Close(raw, socket);
            throw;
        }

        static void Close(Stream? raw, Socket socket)
        {
            raw?.Dispose();
            socket.Dispose();
        }
    }

    private static async Task<IPAddress> ResolveAsync(MultiaddrProtocol protocol, string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var ip))
            return ip;
        var family = protocol switch
        {
            MultiaddrProtocol.Dns4 => AddressFamily.InterNetwork,
            MultiaddrProtocol.Dns6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unspecified,
        };
        var addresses = await System.Net.Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
        return addresses.Length > 0 ? addresses[0] : throw new IOException($"'{host}' does not resolve.");
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                if (_shutdown.IsCancellationRequested || e is ObjectDisposedException)
                    return;
                continue;
            }
            if (Interlocked.Increment(ref _inbound) > Options.MaxInboundConnections)
            {
                Interlocked.Decrement(ref _inbound);
                socket.Dispose();
                continue;
            }
            _ = Task.Run(() => HandleInboundAsync(socket));
        }
    }

    private async Task HandleInboundAsync(Socket socket)
    {
        EndPoint? remoteEndPoint = null;
        var raw = new NetworkStream(socket, ownsSocket: true);
        try
        {
            socket.NoDelay = true;
            remoteEndPoint = socket.RemoteEndPoint;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            timeout.CancelAfter(Options.HandshakeTimeout);
            var (session, remote) = await ConnectionUpgrader.UpgradeInboundAsync(raw, _identity, Options.Yamux, timeout.Token).ConfigureAwait(false);
            var connection = new Libp2pConnection(session, remote, Multiaddr.FromEndPoint((IPEndPoint)remoteEndPoint!),
                Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!), isOutbound: false, Options.StreamNegotiationTimeout);
            Register(connection);
            await session.Completion.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            if (!_shutdown.IsCancellationRequested)
                Raise(() => InboundConnectionFailed?.Invoke(remoteEndPoint, e));
        }
        finally
        {
            Interlocked.Decrement(ref _inbound);
        }
    }

    private void Register(Libp2pConnection connection)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                _ = connection.DisposeAsync();
                return;
            }
            if (!_connections.TryGetValue(connection.RemotePeer, out var list))
                _connections[connection.RemotePeer] = list = [];
            list.Add(connection);
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
            lock (_lock)
            {
                if (_connections.TryGetValue(connection.RemotePeer, out var list) && list.Remove(connection) && list.Count == 0)
                    _connections.Remove(connection.RemotePeer);
            }
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

    private Libp2pConnection? FindConnectionLocked(PeerId peer)
    {
        if (!_connections.TryGetValue(peer, out var list))
            return null;
        foreach (var connection in list)
            if (!connection.IsClosed && !connection.Session.IsGoingAway)
                return connection;
        return null;
    }

    // ---- inbound streams ----

    private async Task ServeStreamsAsync(Libp2pConnection connection)
    {
        try
        {
            while (await connection.Session.AcceptStreamAsync(_shutdown.Token).ConfigureAwait(false) is { } stream)
                _ = Task.Run(() => HandleStreamAsync(connection, stream));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HandleStreamAsync(Libp2pConnection connection, YamuxStream stream)
    {
        string? protocol;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            timeout.CancelAfter(Options.StreamNegotiationTimeout);
            protocol = await MultistreamSelect.RespondAsync(stream, IsServed, () => Protocols, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            stream.Reset();
            return;
        }
        if (protocol is null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            return;
        }
        try
        {
            switch (protocol)
            {
                case IdentifyProtocol.ProtocolId:
                    await IdentifyProtocol.WriteAsync(stream, OwnIdentify(connection), _shutdown.Token).ConfigureAwait(false);
                    break;
                case PingProtocol.ProtocolId:
                    await PingProtocol.RespondAsync(stream, _shutdown.Token).ConfigureAwait(false);
                    break;
                default:
                    if (!_handlers.TryGetValue(protocol, out var handler))
                    {
                        stream.Reset();
                        return;
                    }
                    await handler(new Libp2pStream(stream, protocol, connection), _shutdown.Token).ConfigureAwait(false);
                    break;
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            stream.Reset();
        }
    }

    private bool IsServed(string protocol) =>
        protocol is IdentifyProtocol.ProtocolId or PingProtocol.ProtocolId || _handlers.ContainsKey(protocol);

    private IdentifyMessage OwnIdentify(Libp2pConnection connection) => new(
        _identity.PublicKeyProtobuf,
        ListenAddresses,
        Protocols,
        connection.RemoteAddress,
        Options.ProtocolVersion,
        Options.AgentVersion);

    private static IEnumerable<IPAddress> InterfaceAddresses(AddressFamily family)
    {
        IEnumerable<IPAddress> found;
        try
        {
            found = NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(u => u.Address)
                .Where(a => a.AddressFamily == family && !a.IsIPv6LinkLocal)
                .ToList();
        }
        catch (NetworkInformationException)
        {
            found = [];
        }
        return found.Any() ? found : [family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback];
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Host;

/// <summary>
/// The live connections, per peer, and dials in flight, so two dials of one peer at one address share one connection (who
/// may hold inbound connections is <see cref="InboundAdmission"/>). Closing the pool refuses every later connection.
/// </summary>
internal sealed class ConnectionPool
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, List<Libp2pConnection>> _connections = [];
    private readonly Dictionary<(PeerId, Multiaddr), Task<Libp2pConnection>> _pendingDials = [];
    private bool _closed;

    public IReadOnlyList<Libp2pConnection> All
    {
        get
        {
            lock (_lock)
                return [.. _connections.Values.SelectMany(list => list)];
        }
    }

    /// <summary>A usable connection to <paramref name="peer"/>: open and not going away.</summary>
    public Libp2pConnection? Find(PeerId peer)
    {
        lock (_lock)
            return FindLocked(peer);
    }

    /// <summary>
    /// An open connection to <paramref name="peer"/>, the dial of it at <paramref name="address"/> already under way, or a
    /// new one from <paramref name="dial"/>. A dial at another address is not joined: the caller moved on to this address
    /// because that one did not answer (a direct address behind a NAT, then the relayed one), and that dial may go on
    /// until its handshake timeout.
    /// </summary>
    public Task<Libp2pConnection> GetOrDial(PeerId peer, Multiaddr address, Func<Task<Libp2pConnection>> dial)
    {
        lock (_lock)
        {
            if (FindLocked(peer) is { } existing)
                return Task.FromResult(existing);
            var key = (peer, address);
            if (!_pendingDials.TryGetValue(key, out var pending))
            {
                pending = dial();
                _pendingDials[key] = pending;
                _ = pending.ContinueWith(_ => { lock (_lock) _pendingDials.Remove(key); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            return pending;
        }
    }

    /// <summary>Adds a connection that is up; false (and the caller disposes it) once the pool is closed.</summary>
    public bool TryAdd(Libp2pConnection connection)
    {
        lock (_lock)
        {
            if (_closed)
                return false;
            if (!_connections.TryGetValue(connection.RemotePeer, out var list))
                _connections[connection.RemotePeer] = list = [];
            list.Add(connection);
            return true;
        }
    }

    public void Remove(Libp2pConnection connection)
    {
        lock (_lock)
        {
            if (_connections.TryGetValue(connection.RemotePeer, out var list) && list.Remove(connection) && list.Count == 0)
                _connections.Remove(connection.RemotePeer);
        }
    }

    /// <summary>Refuses later connections and returns the live ones, for the caller to close.</summary>
    public List<Libp2pConnection> Close()
    {
        lock (_lock)
        {
            _closed = true;
            return [.. _connections.Values.SelectMany(list => list)];
        }
    }

    private Libp2pConnection? FindLocked(PeerId peer)
    {
        if (!_connections.TryGetValue(peer, out var list))
            return null;
        // A direct connection first: once hole punching made one, new streams leave the relay.
        Libp2pConnection? relayed = null;
        foreach (var connection in list)
        {
            if (connection.IsClosed || connection.Session.IsGoingAway)
                continue;
            if (!connection.IsRelayed)
                return connection;
            relayed ??= connection;
        }
        return relayed;
    }
}

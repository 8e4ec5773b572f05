namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// How many public requests one client may have open at once. The rate limit counts requests per second; this counts
/// requests in flight, each holding a tunnel stream (slow downloads, uploads, WebSockets, event streams), so one
/// client cannot hold all of a provider's streams. Only clients with a request open take an entry.
/// </summary>
public sealed class ConcurrentRequestLimiter
{
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ConcurrentRequestLimiter(int maxPerClient)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerClient, 1);
        MaxPerClient = maxPerClient;
    }

    public int MaxPerClient { get; }

    /// <summary>Clients with a request open now.</summary>
    public int TrackedClients
    {
        get
        {
            lock (_lock)
                return _open.Count;
        }
    }

    /// <summary>Counts a request of the client in; false when it already has <see cref="MaxPerClient"/> open. Pair with <see cref="Exit"/>.</summary>
    public bool TryEnter(string client)
    {
        lock (_lock)
        {
            _open.TryGetValue(client, out int count);
            if (count >= MaxPerClient)
                return false;
            _open[client] = count + 1;
            return true;
        }
    }

    public void Exit(string client)
    {
        lock (_lock)
        {
            if (!_open.TryGetValue(client, out int count))
                return;
            if (count <= 1)
                _open.Remove(client);
            else
                _open[client] = count - 1;
        }
    }
}

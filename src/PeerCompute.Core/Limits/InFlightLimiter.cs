namespace PeerCompute.Core.Limits;

/// <summary>
/// How many things one client (an <see cref="AddressKey"/>) may have in progress at once: public requests, each holding
/// a tunnel stream (slow downloads, uploads, WebSockets, event streams), or tunnel-port handshakes. A rate limit counts
/// arrivals per second; this counts what is still open. Only clients with something open take an entry.
/// </summary>
public sealed class InFlightLimiter
{
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public InFlightLimiter(int maxPerClient)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerClient, 1);
        MaxPerClient = maxPerClient;
    }

    public int MaxPerClient { get; }

    /// <summary>Clients with something in progress now.</summary>
    public int TrackedClients
    {
        get
        {
            lock (_lock)
                return _open.Count;
        }
    }

    /// <summary>Counts one more of the client's in; false when it already has <see cref="MaxPerClient"/> in progress. Pair with <see cref="Exit"/>.</summary>
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

using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Trust;

/// <summary>
/// The trust list for a decision that is checked again later, such as which connection slot a peer takes: read at most
/// once per <see cref="MaxAge"/>, so a flood of handshakes does not read and parse the file once each. Requests still
/// ask the <see cref="TrustStore"/> itself, so a stale answer here can only put a peer in the wrong kind of slot for a
/// while, never let it do anything.
/// </summary>
public sealed class CachedTrust
{
    private readonly Func<IReadOnlyCollection<string>> _load;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private HashSet<string>? _peers;
    private long _loadedAt;

    /// <param name="load">The PeerIds trusted now; a failure to read is the loader's to report (and answer, e.g. with none).</param>
    public CachedTrust(Func<IReadOnlyCollection<string>> load, TimeSpan maxAge, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAge, TimeSpan.Zero);
        _load = load;
        MaxAge = maxAge;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How old the list an answer comes from may be.</summary>
    public TimeSpan MaxAge { get; }

    public bool IsTrusted(PeerId peer)
    {
        string id = peer.ToString();
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            if (_peers is null || _time.GetElapsedTime(_loadedAt, now) >= MaxAge)
            {
                _peers = new HashSet<string>(_load(), StringComparer.Ordinal);
                _loadedAt = now;
            }
            return _peers.Contains(id);
        }
    }
}

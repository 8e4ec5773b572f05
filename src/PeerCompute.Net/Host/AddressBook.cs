using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Host;

/// <summary>
/// The addresses known for each peer (from dials and identify), without <c>/p2p/</c>, newest last; only addresses a
/// transport can dial are kept, at most <see cref="Libp2pHostOptions.MaxAddressesPerPeer"/> per peer (oldest dropped).
/// Peers that are not trusted are kept for at most <see cref="Libp2pHostOptions.MaxUntrustedPeersInAddressBook"/>: a
/// new one pushes out the untrusted peer updated longest ago, so fresh keys cannot make the book grow. Trusted peers
/// are bounded by the trust list and never pushed out.
/// </summary>
internal sealed class AddressBook(int maxAddressesPerPeer, int maxUntrustedPeers, Func<Multiaddr, bool> canDial, Func<PeerId, bool> isTrusted)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, Entry> _entries = [];
    /// <summary>The untrusted peers, updated longest ago first.</summary>
    private readonly LinkedList<PeerId> _untrusted = new();

    /// <summary>Peers with at least one address.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    public void Add(PeerId peer, IEnumerable<Multiaddr> addresses)
    {
        var dialable = addresses.Select(a => a.WithoutPeerId()).Where(canDial).ToList();
        if (dialable.Count == 0)
            return;
        bool trusted = isTrusted(peer);
        lock (_lock)
        {
            if (!_entries.TryGetValue(peer, out var entry))
            {
                entry = new Entry(trusted ? null : _untrusted.AddLast(peer));
                _entries[peer] = entry;
                if (_untrusted.Count > maxUntrustedPeers)
                {
                    _entries.Remove(_untrusted.First!.Value);
                    _untrusted.RemoveFirst();
                }
            }
            else if (entry.Untrusted is { } node)
            {
                _untrusted.Remove(node);
                _untrusted.AddLast(node);
            }
            foreach (var plain in dialable)
            {
                if (entry.Addresses.Contains(plain))
                    continue;
                if (entry.Addresses.Count == maxAddressesPerPeer)
                    entry.Addresses.RemoveAt(0);
                entry.Addresses.Add(plain);
            }
        }
    }

    /// <summary>A copy of what is known for <paramref name="peer"/> (empty when nothing is).</summary>
    public List<Multiaddr> Get(PeerId peer)
    {
        lock (_lock)
            return _entries.TryGetValue(peer, out var known) ? [.. known.Addresses] : [];
    }

    /// <param name="Untrusted">The peer's place in the eviction order; null for a trusted peer.</param>
    private sealed record Entry(LinkedListNode<PeerId>? Untrusted)
    {
        public List<Multiaddr> Addresses { get; } = [];
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Host;

/// <summary>
/// The addresses known for each peer (from dials and identify), without <c>/p2p/</c>, newest last; only addresses a
/// transport can dial are kept, at most <see cref="Libp2pHostOptions.MaxAddressesPerPeer"/> per peer (oldest dropped).
/// </summary>
internal sealed class AddressBook(int maxAddressesPerPeer, Func<Multiaddr, bool> canDial)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, List<Multiaddr>> _addresses = [];

    public void Add(PeerId peer, IEnumerable<Multiaddr> addresses)
    {
        lock (_lock)
        {
            if (!_addresses.TryGetValue(peer, out var list))
                _addresses[peer] = list = [];
            foreach (var address in addresses)
            {
                var plain = address.WithoutPeerId();
                if (!list.Contains(plain) && canDial(plain))
                {
                    if (list.Count == maxAddressesPerPeer)
                        list.RemoveAt(0);
                    list.Add(plain);
                }
            }
        }
    }

    /// <summary>A copy of what is known for <paramref name="peer"/> (empty when nothing is).</summary>
    public List<Multiaddr> Get(PeerId peer)
    {
        lock (_lock)
            return _addresses.TryGetValue(peer, out var known) ? [.. known] : [];
    }
}

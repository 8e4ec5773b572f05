using System.Net;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Mdns;

/// <summary>A peer announced over mDNS: its id and the multiaddrs it claims (each ending in /p2p/&lt;id&gt;). Nothing here is trusted.</summary>
public sealed record MdnsDiscoveredPeer(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, IPEndPoint From);

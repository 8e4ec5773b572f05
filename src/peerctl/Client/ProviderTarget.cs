using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Trust;

namespace PeerCompute.Ctl.Client;

/// <summary>The provider a command talks to: always one from the trust list.</summary>
internal sealed record ProviderTarget(PeerId PeerId, string DisplayName, IReadOnlyList<Multiaddr> Addrs)
{
    public static ProviderTarget Resolve(TrustStore trust, string? peer)
    {
        var peers = trust.List();
        TrustedPeer entry;
        if (string.IsNullOrEmpty(peer))
        {
            var reachable = peers.Where(p => p.Addrs.Count > 0).ToList();
            entry = reachable.Count switch
            {
                1 => reachable[0],
                0 => throw new CliException("No trusted provider with an address. Add one with: peerctl peers add <peer-id> --name NAME --addr /ip4/HOST/tcp/9000"),
                _ => throw new UsageException($"Several trusted providers ({string.Join(", ", reachable.Select(p => p.Name ?? p.PeerId))}): choose one with --peer."),
            };
        }
        else
        {
            entry = trust.Find(peer)
                ?? throw new CliException(PeerId.TryParse(peer, out _)
                    ? $"Provider {peer} is not in your trust list; peerctl only talks to providers you added. Add it with: peerctl peers add {peer} --addr /ip4/HOST/tcp/9000"
                    : $"No trusted peer named '{peer}'. See: peerctl peers list");
        }
        if (entry.Addrs.Count == 0)
            throw new CliException($"No address known for {entry.Name ?? entry.PeerId}. Add one: peerctl peers edit {entry.Name ?? entry.PeerId} --addr /ip4/HOST/tcp/9000");
        var id = PeerId.Parse(entry.PeerId);
        return new ProviderTarget(id, entry.Name ?? entry.PeerId, entry.Addrs.Select(a => Multiaddr.Parse(a).WithPeerId(id)).ToList());
    }
}

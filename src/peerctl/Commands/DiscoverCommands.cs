using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Net.Mdns;

namespace PeerCompute.Ctl.Commands;

/// <summary>One peer found by <c>peerctl discover --json</c>. Field names are a stable interface: only add, never rename.</summary>
internal sealed record DiscoveredPeerOutput(string PeerId, IReadOnlyList<string> Addrs, bool Trusted, string? Name);

internal sealed record DiscoverOutput(IReadOnlyList<DiscoveredPeerOutput> Peers);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(DiscoverOutput))]
internal sealed partial class DiscoverJsonContext : JsonSerializerContext;

/// <summary>Finding providers on the local network over mDNS. Finding is not trusting: nothing is added or dialed.</summary>
internal sealed class DiscoverCommands
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    /// <summary>List peers announcing themselves on the local network (mDNS), and whether each is trusted.</summary>
    /// <param name="timeout">Seconds to listen for answers.</param>
    /// <param name="json">Print {"peers":[{"peerId","addrs","trusted","name"}]} as JSON.</param>
    [Command("discover")]
    public async Task Discover(double timeout = 3, bool json = false, CancellationToken cancellationToken = default)
    {
        if (!(timeout > 0 && timeout <= 3600))
            throw new CliException($"--timeout {timeout}: expected seconds between 0 and 3600");
        var home = PeerComputeHome.Resolve();
        var found = await FindAsync(home, TimeSpan.FromSeconds(timeout), cancellationToken).ConfigureAwait(false);
        var trusted = new TrustStore(home).List();
        var peers = found
            .OrderBy(p => p.PeerId.ToString(), StringComparer.Ordinal)
            .Select(p =>
            {
                var entry = trusted.FirstOrDefault(t => t.PeerId == p.PeerId.ToString());
                return new DiscoveredPeerOutput(p.PeerId.ToString(), [.. p.Addresses.Select(a => a.ToString())], entry is not null, entry?.Name);
            })
            .ToList();
        if (json)
        {
            CliJson.Write(new DiscoverOutput(peers), DiscoverJsonContext.Default.DiscoverOutput);
            return;
        }
        if (peers.Count == 0)
        {
            Console.Out.WriteLine($"No peers answered within {timeout} s (providers announce unless started with --no-mdns).");
            return;
        }
        Console.Out.WriteLine($"{"PEER ID",-52}  {"TRUSTED",-12}  ADDRESSES");
        foreach (var p in peers)
        {
            string trust = p.Trusted ? (p.Name is null ? "yes" : $"yes ({p.Name})") : "no";
            Console.Out.WriteLine($"{p.PeerId,-52}  {trust,-12}  {string.Join(", ", p.Addrs)}");
        }
    }

    /// <summary>Queries over mDNS for <paramref name="duration"/>; our own id (when this home has one) is left out.</summary>
    internal static async Task<IReadOnlyList<MdnsDiscoveredPeer>> FindAsync(PeerComputeHome home, TimeSpan duration, CancellationToken cancellationToken)
    {
        PeerId? self = null;
        try
        {
            using var identity = IdentityStore.Load(home);
            self = identity.PeerId;
        }
        catch (IdentityException)
        {
            // no identity yet: discovering needs none
        }
        await using var mdns = new MdnsService(self, null, new MdnsServiceOptions { Announce = false, QueryInterval = Timeout.InfiniteTimeSpan });
        try
        {
            mdns.Start();
        }
        catch (SocketException ex)
        {
            throw new CliException($"cannot listen for mDNS on UDP port {mdns.Options.Port}: {ex.Message}");
        }
        return await mdns.DiscoverAsync(duration, cancellationToken).ConfigureAwait(false);
    }
}

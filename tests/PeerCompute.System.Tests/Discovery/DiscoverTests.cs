using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Discovery;

/// <summary>
/// The published peercomputed announcing itself and the published `peerctl discover` finding it, both run inside a
/// network namespace made for the test (loopback only, multicast on): no mDNS packet reaches a real interface.
/// </summary>
[NotInParallel("system")]
public class DiscoverTests
{
    [Test]
    public async Task Peerctl_discover_finds_a_provider_announcing_on_the_network_and_peers_add_fills_its_address()
    {
        string ns = $"pcdisc{Environment.ProcessId % 10000}{Random.Shared.Next(1000)}";
        await Ip("netns", "add", ns);
        try
        {
            await Ip("-n", ns, "link", "set", "lo", "up", "multicast", "on");
            await Ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo");
            using var provider = await PeerNode.CreateAsync("provider");
            using var user = await PeerNode.CreateAsync("user");

            // mDNS on (the default); the daemon only listens inside the namespace.
            await using var daemon = TestProcess.Start("ip", ["netns", "exec", ns, PeerNode.Peercomputed, "--listen", "/ip4/127.0.0.1/tcp/9000"], provider.Environment);
            await daemon.WaitForLineAsync(l => l.Contains("mdns: announcing", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            await daemon.WaitForLineAsync(l => l.Contains("ready: serving", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

            var found = await TestProcess.RunAsync("ip", ["netns", "exec", ns, PeerNode.Peerctl, "discover", "--timeout", "3", "--json"], user.Environment);
            await Assert.That(found.ExitCode).IsEqualTo(0).Because(found.ToString());
            var peers = JsonDocument.Parse(found.StandardOutput).RootElement.GetProperty("peers").EnumerateArray().ToList();
            await Assert.That(peers.Count(p => p.GetProperty("peerId").GetString() == provider.PeerId)).IsEqualTo(1).Because(found.ToString());
            var entry = peers.Single(p => p.GetProperty("peerId").GetString() == provider.PeerId);
            await Assert.That(entry.GetProperty("trusted").GetBoolean()).IsFalse();
            await Assert.That(entry.GetProperty("addrs").EnumerateArray().Any(a => a.GetString()!.StartsWith("/ip4/127.0.0.1/tcp/9000", StringComparison.Ordinal))).IsTrue();

            var added = await TestProcess.RunAsync("ip", ["netns", "exec", ns, PeerNode.Peerctl, "peers", "add", provider.PeerId, "--name", "maya"], user.Environment);
            await Assert.That(added.ExitCode).IsEqualTo(0).Because(added.ToString());
            var list = JsonDocument.Parse(await user.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers");
            await Assert.That(list[0].GetProperty("addrs").EnumerateArray().Any(a => a.GetString() == "/ip4/127.0.0.1/tcp/9000")).IsTrue();

            var again = await TestProcess.RunAsync("ip", ["netns", "exec", ns, PeerNode.Peerctl, "discover", "--timeout", "3", "--json"], user.Environment);
            var trusted = JsonDocument.Parse(again.StandardOutput).RootElement.GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("peerId").GetString() == provider.PeerId);
            await Assert.That(trusted.GetProperty("trusted").GetBoolean()).IsTrue();
            await Assert.That(trusted.GetProperty("name").GetString()).IsEqualTo("maya");
        }
        finally
        {
            await Ip("netns", "del", ns);
        }
    }

    private static async Task Ip(params string[] args)
    {
        var result = await TestProcess.RunAsync("ip", args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {result}");
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Tunnel.Tests;

public class HostnameBindingsTests
{
    [Test]
    public async Task The_first_peer_keeps_a_tag_across_restarts_and_another_peer_is_refused_it()
    {
        string folder = Directory.CreateTempSubdirectory("pc-bindings-").FullName;
        try
        {
            using var owner = PeerIdentity.Generate();
            using var other = PeerIdentity.Generate();
            var bindings = HostnameBindings.Load(folder);
            bool claimed = await bindings.TryClaimAsync("abcdefghijkl", owner.PeerId, CancellationToken.None);
            await bindings.SetRoutesAsync("abcdefghijkl", ["web-abcdefghijkl"], CancellationToken.None);
            await bindings.DisposeAsync();

            var reloaded = HostnameBindings.Load(folder);
            bool stolen = await reloaded.TryClaimAsync("abcdefghijkl", other.PeerId, CancellationToken.None);
            bool reclaimed = await reloaded.TryClaimAsync("abcdefghijkl", owner.PeerId, CancellationToken.None);

            await Assert.That(claimed).IsTrue();
            await Assert.That(stolen).IsFalse();
            await Assert.That(reclaimed).IsTrue();
            await Assert.That(reloaded.OwnerOf("abcdefghijkl")).IsEqualTo(owner.PeerId);
            await Assert.That(reloaded.WasServed("abcdefghijkl", "web-abcdefghijkl")).IsTrue();
            await Assert.That(reloaded.WasServed("abcdefghijkl", "api-abcdefghijkl")).IsFalse();
            await Assert.That(File.GetUnixFileMode(Path.Combine(folder, HostnameBindings.FileName))).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await Assert.That(File.GetUnixFileMode(Path.Combine(folder, HostnameBindings.JournalName))).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await reloaded.DisposeAsync();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task A_corrupt_bindings_file_stops_the_load_with_its_path()
    {
        string folder = Directory.CreateTempSubdirectory("pc-bindings-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, HostnameBindings.FileName), "{ not json");

            var error = Assert.Throws<TunnelException>(() => HostnameBindings.Load(folder));

            await Assert.That(error!.Message).Contains(HostnameBindings.FileName);
            await Assert.That(error.Kind).IsEqualTo(TunnelErrorKind.State);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

public class ReconnectBackoffTests
{
    [Test]
    public async Task Waits_double_with_jitter_up_to_the_cap_and_reset_starts_over()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), new Random(7));
        var waits = Enumerable.Range(0, 12).Select(_ => backoff.Next()).ToList();
        backoff.Reset();
        var afterReset = backoff.Next();

        for (int i = 0; i < waits.Count; i++)
        {
            double ceiling = Math.Min(500 * Math.Pow(2, i), 30_000);
            await Assert.That(waits[i].TotalMilliseconds).IsGreaterThanOrEqualTo(ceiling / 2);
            await Assert.That(waits[i].TotalMilliseconds).IsLessThanOrEqualTo(ceiling);
        }
        await Assert.That(waits.Max()).IsLessThanOrEqualTo(TimeSpan.FromSeconds(30));
        await Assert.That(afterReset).IsLessThanOrEqualTo(TimeSpan.FromMilliseconds(500));
    }

    [Test]
    public async Task Two_providers_that_fail_together_do_not_retry_in_the_same_instant()
    {
        var a = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), new Random(1));
        var b = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), new Random(2));

        var first = Enumerable.Range(0, 5).Select(_ => a.Next()).ToList();
        var second = Enumerable.Range(0, 5).Select(_ => b.Next()).ToList();

        await Assert.That(first).IsNotEquivalentTo(second);
    }
}

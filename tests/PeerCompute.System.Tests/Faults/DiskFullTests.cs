using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// The disk fills up while state is written: requests fail with a clear reason, no state file is torn,
/// truncated or left half-written (the atomic writes hold), and once space is back everything works.
/// </summary>
[NotInParallel("system")]
public class DiskFullTests
{
    [Test]
    public async Task A_full_provider_disk_refuses_deploys_clearly_and_keeps_every_record_whole()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var user = await PeerNode.CreateAsync("user");
        await provider.TrustAsync(user, "sam");
        await using var disk = await SmallDisk.UnderAsync(provider);
        await using var daemon = await ProviderProcess.StartAsync(provider);
        await user.TrustAsync(provider, "maya", daemon.Address);
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "before", "--port", "8080", "--json");
        var recordsBefore = ProviderState.Records(provider);

        await disk.FillAsync();

        var deploy = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "during", "--port", "8080", "--json");
        await Assert.That(deploy.ExitCode).IsNotEqualTo(0).Because(deploy.ToString());
        await Assert.That(deploy.StandardError).Contains("No space left on device");
        await Assert.That(deploy.StandardError).DoesNotContain("Docker engine");
        // Stopping needs a state write too: it fails with the same reason, not a dropped connection.
        var stop = await user.CtlAsync("stop", "before", "--json");
        await Assert.That(stop.ExitCode).IsNotEqualTo(0).Because(stop.ToString());
        await Assert.That(stop.StandardError).Contains("No space left on device");
        // Reading still works on a full disk.
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        await Assert.That(status.GetProperty("deployments").EnumerateArray().Select(d => d.GetProperty("name").GetString()).ToList()).IsEquivalentTo(new List<string?> { "before" });

        // Every record parses and none is half-written; the engine holds exactly what the records say.
        await Assert.That(ProviderState.Records(provider)).IsEquivalentTo(recordsBefore);
        await Assert.That(ProviderState.Debris(provider)).IsEmpty();
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();

        disk.Free();
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "after", "--port", "8080", "--json");
        await Assert.That(await user.CtlOkAsync("stop", "before")).Contains("Stopped before");
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        await Assert.That(ProviderState.Records(provider).Count).IsEqualTo(1);

        // And the records written on a full disk survive a restart as they are.
        await daemon.RestartAsync();
        await Assert.That(daemon.Process.Output).Contains("runtime ready: adopted 1, vanished 0");
        await Assert.That(daemon.Process.Output).DoesNotContain("unreadable");
    }

    [Test]
    public async Task A_full_disk_under_peerctl_keeps_the_trust_list_and_identity_intact()
    {
        using var user = await PeerNode.CreateAsync("user");
        using var first = await PeerNode.CreateAsync("first");
        using var second = await PeerNode.CreateAsync("second");
        await user.TrustAsync(first, "one");
        await using var disk = await SmallDisk.UnderAsync(user);
        string trustFile = Path.Combine(user.Home, "trusted_peers.json");
        string keyFile = Path.Combine(user.Home, "identity.key");
        byte[] trustBefore = await File.ReadAllBytesAsync(trustFile);
        byte[] keyBefore = await File.ReadAllBytesAsync(keyFile);

        await disk.FillAsync();

        var add = await user.CtlAsync("peers", "add", second.PeerId, "--name", "two", "--no-discover");
        await Assert.That(add.ExitCode).IsNotEqualTo(0).Because(add.ToString());
        await Assert.That(add.StandardError).Contains("No space left on device");
        var init = await user.CtlAsync("init", "--force");
        await Assert.That(init.ExitCode).IsNotEqualTo(0).Because(init.ToString());
        await Assert.That(init.StandardError).Contains("No space left on device");

        // Old content, byte for byte; no temporary file left beside them.
        await Assert.That(await File.ReadAllBytesAsync(trustFile)).IsEquivalentTo(trustBefore);
        await Assert.That(await File.ReadAllBytesAsync(keyFile)).IsEquivalentTo(keyBefore);
        await Assert.That(Directory.EnumerateFiles(user.Home).Where(f => f.EndsWith(".tmp", StringComparison.Ordinal))).IsEmpty();
        await Assert.That((await user.CtlOkAsync("id")).Trim()).Contains(user.PeerId);
        await Assert.That(await user.CtlOkAsync("peers", "list")).Contains("one");

        disk.Free();
        await user.CtlOkAsync("peers", "add", second.PeerId, "--name", "two", "--no-discover");
        string list = await user.CtlOkAsync("peers", "list");
        await Assert.That(list).Contains("one");
        await Assert.That(list).Contains("two");
    }
}

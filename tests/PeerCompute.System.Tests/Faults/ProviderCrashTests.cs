using System.Diagnostics;
using System.Net;
using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// kill -9 of peercomputed at the worst moments (a deploy half-way, an image pull in flight, a log stream
/// open): the client gets a clear error instead of a hang, and after a restart no container is leaked or lost.
/// </summary>
[NotInParallel("system")]
public class ProviderCrashTests
{
    /// <summary>Bounds how long a client may take to notice; a hang would otherwise run to the 3-minute process timeout.</summary>
    private static readonly TimeSpan ClientNotices = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Kill_during_a_deploy_leaves_no_leaked_or_lost_container()
    {
        var (provider, user, daemon) = await DeployWorkflowTests.TrustedPairAsync();
        using var _p = provider;
        using var _u = user;
        await using var _d = daemon;

        // The container starts at once but answers only after a minute, so the deploy waits for it.
        await using var deploy = user.StartCtl("deploy", DeployWorkflowTests.TestImage, "--name", "slow", "--port", "8080", "--json",
            "--", "sh", "-c", "sleep 60; httpd -f -p 8080 -h /www");
        await Until.TrueAsync(async () => (await ProviderState.ContainersAsync(provider)).Any(c => c.State == "running"),
            "the deployment's container to run", TimeSpan.FromSeconds(60));
        await Assert.That(deploy.HasExited).IsFalse();

        await daemon.KillAsync();
        var watch = Stopwatch.StartNew();
        int exit = await deploy.WaitForExitAsync(ClientNotices);
        await Assert.That(exit).IsNotEqualTo(0).Because(deploy.Output);
        await Assert.That(deploy.Output).Contains("\"connection_lost\"");
        await Assert.That(deploy.Output).Contains("connection to maya broke");
        Console.WriteLine($"deploy client noticed the crash after {watch.Elapsed.TotalSeconds:0.0} s");

        await daemon.RestartAsync();
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        // The deployment is the user's to see and to stop: not lost, not leaked.
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        var slow = status.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(slow.GetProperty("name").GetString()).IsEqualTo("slow");
        await Assert.That(slow.GetProperty("state").GetString()).IsEqualTo("running");
        await user.CtlOkAsync("stop", "slow");
        await Assert.That(await ProviderState.ContainersAsync(provider)).IsEmpty();
        await Assert.That(ProviderState.Records(provider)).IsEmpty();
    }

    [Test]
    public async Task Kill_during_an_image_pull_leaves_no_container_and_a_clear_record()
    {
        await using var registry = await LoopbackRegistry.StartAsync();
        string repository = await registry.PushFreshImageAsync();
        // The engine pulls through a proxy that holds the first blob request: the pull is surely in flight when the kill comes.
        await using var proxy = new StallingProxy(new IPEndPoint(IPAddress.Loopback, registry.Port), "/blobs/sha256:");
        string image = $"127.0.0.1:{proxy.Port}/{repository}";

        var (provider, user, daemon) = await DeployWorkflowTests.TrustedPairAsync();
        using var _p = provider;
        using var _u = user;
        await using var _d = daemon;

        await using var deploy = user.StartCtl("deploy", image, "--name", "pulled", "--port", "8080", "--json");
        string request = await proxy.Stalled.WaitAsync(TimeSpan.FromSeconds(90));
        await Assert.That(request).Contains("/blobs/sha256:");
        await Assert.That(ProviderState.Records(provider).Single().Phase).IsEqualTo("Admitted");

        await daemon.KillAsync();
        int exit = await deploy.WaitForExitAsync(ClientNotices);
        await Assert.That(exit).IsNotEqualTo(0).Because(deploy.Output);
        await Assert.That(deploy.Output).Contains("connection_lost");

        await daemon.RestartAsync();
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        await Assert.That(await ProviderState.ContainersAsync(provider)).IsEmpty();
        // The interrupted deploy is reported, with why, instead of silently pending or silently gone.
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        var pulled = status.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(pulled.GetProperty("state").GetString()).IsEqualTo("vanished");
        var capacity = status.GetProperty("capacity");
        await Assert.That(capacity.GetProperty("deploys").GetInt32()).IsEqualTo(0);
        await Assert.That(capacity.GetProperty("usedMemoryBytes").GetInt64()).IsEqualTo(0);

        // The provider is whole: the same image deploys now that the registry answers directly.
        await using (var direct = new StallingProxy(new IPEndPoint(IPAddress.Loopback, registry.Port), "never-sent-marker"))
        {
            var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", $"127.0.0.1:{direct.Port}/{repository}", "--name", "pulled2", "--port", "8080", "--json")).RootElement;
            await Assert.That(deployed.GetProperty("state").GetString()).IsEqualTo("running");
        }
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        await TestProcess.RunAsync("bash", ["-c", $"docker rmi -f $(docker images -q '127.0.0.1:*/{repository.Split(':')[0]}') >/dev/null 2>&1 || true"]);
    }

    [Test]
    public async Task Kill_during_logs_follow_ends_the_client_with_an_error_and_the_workload_survives()
    {
        var (provider, user, daemon) = await DeployWorkflowTests.TrustedPairAsync();
        using var _p = provider;
        using var _u = user;
        await using var _d = daemon;
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "ticker", "--port", "8080", "--json",
            "--", "sh", "-c", "httpd -p 8080 -h /www; while true; do echo tick $(date +%s); sleep 1; done");

        await using var follow = user.StartCtl("logs", "ticker", "--follow");
        await follow.WaitForLineAsync(l => l.StartsWith("tick ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        await daemon.KillAsync();
        int exit = await follow.WaitForExitAsync(ClientNotices);
        await Assert.That(exit).IsNotEqualTo(0).Because(follow.Output);
        await Assert.That(follow.Output).Contains("broke");

        await daemon.RestartAsync();
        await Assert.That(daemon.Process.Output).Contains("runtime ready: adopted 1,");
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        await using var again = user.StartCtl("logs", "ticker", "--follow");
        await again.WaitForLineAsync(l => l.StartsWith("tick ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
    }
}

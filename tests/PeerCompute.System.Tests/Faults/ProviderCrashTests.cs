using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
    public async Task Kill_between_create_and_start_of_a_deploy_leaves_no_leaked_or_lost_container()
    {
        // The provider reaches the engine through a proxy that holds the first "start container" call:
        // the kill lands after the container was created and before it was started, every time.
        await using var engineApi = new StallingProxy(new UnixDomainSocketEndPoint("/var/run/docker.sock"), "/start HTTP/1.1");
        var launch = new ProviderLaunch([], new Dictionary<string, string?> { ["DOCKER_HOST"] = $"tcp://127.0.0.1:{engineApi.Port}" });
        await using var cluster = await TrustedCluster.StartAsync(launch);
        var (provider, user, daemon) = cluster;

        await using var deploy = user.StartCtl("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json");
        await engineApi.Stalled.WaitAsync(TimeSpan.FromSeconds(60));
        await Assert.That((await ProviderState.ContainersAsync(provider)).Single().State).IsEqualTo("created");
        await Assert.That(ProviderState.Records(provider).Single().Phase).IsEqualTo("Admitted");

        await daemon.KillAsync();
        var watch = Stopwatch.StartNew();
        int exit = await deploy.WaitForExitAsync(ClientNotices);
        await Assert.That(exit).IsNotEqualTo(0).Because(deploy.Output);
        await Assert.That(deploy.Output).Contains("\"connection_lost\"");
        await Assert.That(deploy.Output).Contains("connection to maya broke");
        Console.WriteLine($"deploy client noticed the crash after {watch.Elapsed.TotalSeconds:0.0} s");

        // On restart the half-done deploy is completed (its container started), not leaked or dropped.
        await daemon.RestartAsync();
        await Assert.That(daemon.Process.Output).Contains("runtime ready: adopted 1, vanished 0, orphans 0");
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        var web = status.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(web.GetProperty("name").GetString()).IsEqualTo("web");
        await Assert.That(web.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(await DeployWorkflowTests.CurlAsync(web.GetProperty("localUrl").GetString()!)).Contains("peercompute test page");
        await user.CtlOkAsync("stop", "web");
        await Assert.That(await ProviderState.ContainersAsync(provider)).IsEmpty();
        await Assert.That(ProviderState.Records(provider)).IsEmpty();
    }

    [Test]
    public async Task Kill_during_an_image_pull_leaves_no_container_and_a_clear_record()
    {
        await using var registry = await LocalRegistry.StartAsync(DeployWorkflowTests.TestImage, "peercompute-test/faults-", withPrivateEndpoint: false);
        string repository = (await registry.PushFreshImageAsync()).Repository + ":v1";
        // The engine pulls through a proxy that holds the first blob request: the pull is surely in flight when the kill comes.
        await using var proxy = new StallingProxy(new IPEndPoint(IPAddress.Loopback, registry.OpenPort), "/blobs/sha256:");
        string image = $"127.0.0.1:{proxy.Port}/{repository}";

        // A registry on loopback is refused unless the provider allows it.
        await using var cluster = await TrustedCluster.StartAsync("--allow-registry", $"127.0.0.1:{proxy.Port}");
        var (provider, user, daemon) = cluster;

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

        // The provider is whole: the next deploy works. (The engine's own pull of that image stays held by
        // the proxy until the test ends: the engine does not cancel a pull when its caller goes away.)
        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "after", "--port", "8080", "--json")).RootElement;
        await Assert.That(deployed.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(await ProviderState.DisagreementsAsync(provider)).IsEmpty();
    }

    [Test]
    public async Task Kill_during_logs_follow_ends_the_client_with_an_error_and_the_workload_survives()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
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

    [Test]
    public async Task A_logs_follow_whose_client_was_killed_does_not_hold_the_providers_stop()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, daemon) = cluster;
        // One line, then silence: a followed stream of this container would wait on the engine for ever.
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "quiet", "--port", "8080", "--json",
            "--", "sh", "-c", "echo hello from quiet; exec httpd -f -p 8080 -h /www");

        await using (var follow = user.StartCtl("logs", "quiet", "--follow"))
        {
            await follow.WaitForLineAsync(l => l.Contains("hello from quiet", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            follow.Signal(Posix.SIGKILL);
            await follow.WaitForExitAsync(ClientNotices);
        }

        // The killed client's request ends with its connection, so a stop does not wait out the drain timeout for it.
        int exit = await daemon.StopAsync();
        await Assert.That(exit).IsEqualTo(0).Because(daemon.Process.Output);
        await Assert.That(daemon.Process.Output).DoesNotContain("still running after").Because(daemon.Process.Output);
        await Assert.That(daemon.Process.Output).Contains("stopped");
    }

    [Test]
    public async Task A_stop_gives_a_deploy_in_flight_the_whole_drain_time_not_the_frameworks_five_seconds()
    {
        // The engine's "start container" call is held: the deploy stays in flight for as long as the test wants.
        await using var engineApi = new StallingProxy(new UnixDomainSocketEndPoint("/var/run/docker.sock"), "/start HTTP/1.1");
        var launch = new ProviderLaunch([], new Dictionary<string, string?> { ["DOCKER_HOST"] = $"tcp://127.0.0.1:{engineApi.Port}" });
        await using var cluster = await TrustedCluster.StartAsync(launch);
        var (_, user, daemon) = cluster;
        await using var deploy = user.StartCtl("deploy", DeployWorkflowTests.TestImage, "--name", "held", "--port", "8080", "--json");
        await engineApi.Stalled.WaitAsync(TimeSpan.FromSeconds(60));

        var watch = Stopwatch.StartNew();
        int exit = await daemon.StopAsync();
        await Assert.That(exit).IsEqualTo(0).Because(daemon.Process.Output);
        await Assert.That(daemon.Process.Output).Contains("waiting for 1 request(s) in flight");
        await Assert.That(daemon.Process.Output).Contains("1 requests still running after 30 s; closing them");
        Console.WriteLine($"stop took {watch.Elapsed.TotalSeconds:0.0} s with a deploy held in flight");
    }
}

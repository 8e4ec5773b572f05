using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>The product's main path with the published binaries, each machine with its own home, on a real dockerd.</summary>
[NotInParallel("system")]
public class DeployWorkflowTests
{
    public const string TestImage = "peercompute-test/busybox:latest";

    internal static async Task<string> CurlAsync(string url)
    {
        var result = await TestProcess.RunAsync("curl", ["-sS", "-m", "10", url]);
        return result.ExitCode == 0 ? result.StandardOutput : $"curl failed: {result}";
    }

    [Test]
    public async Task Deploy_answers_status_shows_limits_logs_follow_and_stop_removes()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;

        // A web server that also prints a timestamped line every second.
        string output = await user.CtlOkAsync("deploy", TestImage, "--name", "web", "--port", "8080", "--cpu", "250m", "--memory", "64MB", "--json",
            "--", "sh", "-c", "httpd -p 8080 -h /www; while true; do echo tick $(date +%s); sleep 1; done");
        var deployed = JsonDocument.Parse(output).RootElement;
        await Assert.That(deployed.GetProperty("name").GetString()).IsEqualTo("web");
        await Assert.That(deployed.GetProperty("provider").GetString()).IsEqualTo(provider.PeerId);
        string localUrl = deployed.GetProperty("localUrl").GetString()!;
        await Assert.That(localUrl).StartsWith("http://127.0.0.1:");
        await Assert.That(await CurlAsync(localUrl)).Contains("peercompute test page");

        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        var web = status.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(web.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(web.GetProperty("cpuMillicores").GetInt32()).IsEqualTo(250);
        await Assert.That(web.GetProperty("memoryBytes").GetInt64()).IsEqualTo(64L << 20);
        string container = $"pc-{web.GetProperty("id").GetString()}";
        await Assert.That(await Docker.InspectAsync(container, "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}")).IsEqualTo($"250000000 {64L << 20}");

        long startedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await using (var follow = user.StartCtl("logs", "web", "--follow"))
        {
            string line = await follow.WaitForLineAsync(l => l.StartsWith("tick ", StringComparison.Ordinal) && long.Parse(l[5..]) > startedAt, TimeSpan.FromSeconds(30));
            await Assert.That(line).StartsWith("tick ");
        }

        await Assert.That(await user.CtlOkAsync("stop", "web")).Contains("Stopped web");
        var after = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        await Assert.That(after.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        var gone = await TestProcess.RunAsync("docker", ["inspect", container]);
        await Assert.That(gone.ExitCode).IsNotEqualTo(0);
    }

    [Test]
    public async Task A_restarted_provider_still_serves_and_reports_the_deployment()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;

        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", TestImage, "--name", "site", "--port", "8080", "--json")).RootElement;
        string url = deployed.GetProperty("localUrl").GetString()!;

        await Assert.That(await daemon.StopAsync()).IsEqualTo(0);
        // Stopping the daemon leaves the workload running.
        await Assert.That(await CurlAsync(url)).Contains("peercompute test page");

        await daemon.RestartAsync();
        await Assert.That(daemon.Process.Output).Contains("runtime ready: adopted 1,");
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        var site = status.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(site.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(site.GetProperty("localUrl").GetString()).IsEqualTo(url);
        await Assert.That(await CurlAsync(url)).Contains("peercompute test page");
    }

    [Test]
    public async Task Ten_parallel_deploys_from_two_clients_against_room_for_three()
    {
        await using var cluster = await TrustedCluster.StartAsync("--max-deploys", "3");
        var (provider, user, daemon) = cluster;
        var second = await cluster.AddUserAsync("second", "lee");

        var runs = Enumerable.Range(0, 10).Select(i =>
            (i % 2 == 0 ? user : second).CtlAsync("deploy", TestImage, "--name", $"app{i}", "--port", "8080", "--memory", "32MB", "--json")).ToList();
        var results = await Task.WhenAll(runs);

        await Assert.That(results.Count(r => r.ExitCode == 0)).IsEqualTo(3);
        var refused = results.Where(r => r.ExitCode != 0).ToList();
        await Assert.That(refused.Count).IsEqualTo(7);
        foreach (var r in refused)
        {
            var error = JsonDocument.Parse(r.StandardOutput).RootElement.GetProperty("error");
            await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("capacity_exceeded");
            await Assert.That(r.StandardError).Contains("max-deploys");
        }
    }
}

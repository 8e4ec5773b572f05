using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// The Docker engine goes away under a running provider and comes back: the provider keeps running,
/// answers with a clear "Docker is down" meanwhile, and afterwards deploys again and still serves the
/// deployment it had. Uses a dockerd of the test's own in a namespace of its own (managing that namespace's iptables,
/// so forwarded traffic meets the egress rules: without it the provider refuses deploys); the shared engine is never restarted.
/// </summary>
[NotInParallel("system")]
public class DockerRestartTests
{
    [Test]
    public async Task The_provider_outlives_a_dockerd_restart_and_recovers()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var engine = await PrivateDockerd.StartAsync(new PrivateDockerdOptions { Wrapper = ns.Exec, Iptables = true, Image = DeployWorkflowTests.TestImage, FolderPrefix = "pcfd-" });
        var launch = new ProviderLaunch(ns.Exec, new Dictionary<string, string?> { ["DOCKER_HOST"] = engine.Endpoint });
        await using var cluster = await TrustedCluster.StartAsync(launch);
        var (provider, user, daemon) = cluster;
        // peerctl and curl run in the namespace too: the provider and the containers' ports live there.
        Task<ProcessResult> Ctl(params string[] args) => TestProcess.RunAsync(ns.Exec[0], [.. ns.Exec[1..], PeerNode.Peerctl, .. args], user.Environment, TimeSpan.FromMinutes(2));
        async Task<string> Curl(string url) => (await TestProcess.RunAsync(ns.Exec[0], [.. ns.Exec[1..], "curl", "-sS", "-m", "10", "--retry", "10", "--retry-all-errors", "--retry-delay", "1", url])).StandardOutput;

        var first = await Ctl("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json");
        await Assert.That(first.ExitCode).IsEqualTo(0).Because(first.ToString());
        string url = JsonDocument.Parse(first.StandardOutput).RootElement.GetProperty("localUrl").GetString()!;
        await Assert.That(await Curl(url)).Contains("peercompute test page");

        await engine.StopDockerdAsync();

        var status = await Ctl("status", "--json");
        await Assert.That(status.ExitCode).IsNotEqualTo(0).Because(status.ToString());
        await Assert.That(status.StandardOutput).Contains("runtime_unavailable");
        await Assert.That(status.StandardError).Contains("Docker engine");
        var deploy = await Ctl("deploy", DeployWorkflowTests.TestImage, "--name", "web2", "--port", "8080", "--json");
        await Assert.That(deploy.ExitCode).IsNotEqualTo(0).Because(deploy.ToString());
        await Assert.That(deploy.StandardOutput).Contains("runtime_unavailable");
        await Assert.That(deploy.StandardError).Contains("Docker engine");
        await Assert.That(daemon.Process.HasExited).IsFalse().Because(daemon.Process.Output);
        await Assert.That(ProviderState.Records(provider).Count).IsEqualTo(1);

        await engine.StartDockerdAsync();

        // The engine restarts the unless-stopped container; the provider finds it again without being restarted.
        await Eventually.WaitAsync(async () => (await Ctl("status", "web", "--json")).StandardOutput.Contains("\"running\"", StringComparison.Ordinal),
            "web to be reported running again", TimeSpan.FromSeconds(60));
        string newUrl = JsonDocument.Parse((await Ctl("status", "web", "--json")).StandardOutput).RootElement.GetProperty("deployments")[0].GetProperty("localUrl").GetString()!;
        await Assert.That(await Curl(newUrl)).Contains("peercompute test page");
        var again = await Ctl("deploy", DeployWorkflowTests.TestImage, "--name", "web2", "--port", "8080", "--json");
        await Assert.That(again.ExitCode).IsEqualTo(0).Because(again.ToString());
        await Assert.That(await ProviderState.DisagreementsAsync(provider, engine.Endpoint)).IsEmpty();
        await Assert.That(daemon.Process.HasExited).IsFalse();
        await Assert.That(daemon.Process.Output).Contains("runtime_unavailable");
    }
}

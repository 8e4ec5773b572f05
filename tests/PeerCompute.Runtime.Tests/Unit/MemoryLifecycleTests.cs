using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>The lifecycle over the in-memory engine: the same runtime code as over Docker, in milliseconds.</summary>
public sealed class MemoryLifecycleTests
{
    private const string Owner = "12D3KooWOwnerMemory";

    [Test]
    public async Task A_deploy_runs_a_container_on_the_projects_network_and_reports_its_loopback_port()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var status = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.HostPort).IsEqualTo(40000);
        await Assert.That(status.ContainerId).IsNotNull();
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(1);
        await Assert.That(harness.Engine.Calls).Contains("create-network pcmem0");
        await Assert.That(harness.Engine.Calls).Contains("start " + status.ContainerId);
    }

    [Test]
    public async Task Stop_keeps_the_container_for_its_logs_and_frees_its_capacity()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        harness.Engine.Write(deployed.ContainerId!, "bye", LogStream.Stderr);
        var stopped = await harness.Runtime.StopAsync(deployed.Id, Owner);
        await Assert.That(stopped.State).IsEqualTo(DeploymentState.Stopped);
        await Assert.That(stopped.HostPort).IsNull();
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);
        await Assert.That(harness.Engine.ContainerIds).Contains(deployed.ContainerId!);
        await Assert.That(stopped.LastLogLines.Single().Text).IsEqualTo("bye");
    }

    [Test]
    public async Task Remove_takes_the_container_and_the_record_away()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        await harness.Runtime.RemoveAsync(deployed.Id, Owner);
        await Assert.That(harness.Engine.ContainerIds).IsEmpty();
        await Assert.That(await harness.Runtime.ListAsync(Owner)).IsEmpty();
        await Assert.That(File.Exists(Path.Combine(harness.Options.StateFolder!, "deployments", deployed.Id + ".json"))).IsFalse();
    }

    [Test]
    public async Task A_deploy_that_fails_to_start_leaves_no_container_record_or_capacity_behind()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.FailNextStart = new RuntimeException(RuntimeErrorCode.DockerError, "starting the container for web: refused");
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.DockerError);
        await Assert.That(harness.Engine.ContainerIds).IsEmpty();
        await Assert.That(await harness.Runtime.ListAsync(Owner)).IsEmpty();
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);
        // The name is free again.
        await Assert.That((await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner)).State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task An_image_the_engine_cannot_provide_is_refused_before_any_container_exists()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(MemoryRuntime.App() with { Image = "missing:1" }, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImageNotFound);
        await Assert.That(harness.Engine.Calls.Any(c => c.StartsWith("create ", StringComparison.Ordinal))).IsFalse();
    }

    [Test]
    public async Task Another_owners_deployment_does_not_exist_for_a_peer_and_its_name_stays_taken()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        var stop = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.StopAsync(deployed.Id, "12D3KooWSomeoneElse"));
        await Assert.That(stop!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
        var taken = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(MemoryRuntime.App(), "12D3KooWSomeoneElse"));
        await Assert.That(taken!.Code).IsEqualTo(RuntimeErrorCode.NameTaken);
    }

    [Test]
    public async Task A_process_that_exits_shows_its_exit_code_and_last_lines()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        harness.Engine.Write(deployed.ContainerId!, "out of memory soon");
        harness.Engine.ExitProcess(deployed.ContainerId!, 137, oomKilled: true);
        var status = await harness.Runtime.GetStatusAsync(deployed.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Exited);
        await Assert.That(status.ExitCode).IsEqualTo(137L);
        await Assert.That(status.OomKilled).IsTrue();
        await Assert.That(status.Usage).IsNull();
        await Assert.That(status.LastLogLines.Single().Text).IsEqualTo("out of memory soon");
    }

    [Test]
    public async Task Usage_is_read_from_the_engine_only_when_asked_and_running()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        await Assert.That(deployed.Usage).IsNull();
        var status = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: true);
        await Assert.That(status.Usage!.MemoryLimitBytes).IsEqualTo(64 * RuntimeOptions.MiB);
    }

    [Test]
    public async Task Logs_stream_from_the_engine_through_the_runtime()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        harness.Engine.Write(deployed.ContainerId!, "one");
        harness.Engine.Write(deployed.ContainerId!, "two", LogStream.Stderr);
        var lines = new List<ContainerLogLine>();
        await foreach (var line in harness.Runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Tail = 1 }))
            lines.Add(line);
        await Assert.That(lines.Single()).IsEqualTo(new ContainerLogLine(LogStream.Stderr, lines[0].Timestamp, "two"));
    }

    [Test]
    public async Task A_network_of_the_projects_name_that_lets_containers_talk_is_refused_on_start()
    {
        var harness = await MemoryRuntime.StartAsync();
        await using (harness)
        {
            var runtime = await harness.OpenAsync(start: false);
            harness.Engine.AddNetwork(new Engine.NetworkFacts("pcmem0", IsBridge: true, InterContainerTrafficOff: false));
            var error = await Assert.ThrowsAsync<RuntimeException>(() => runtime.StartAsync());
            await Assert.That(error!.Message).Contains("inter-container communication off");
        }
    }

    [Test]
    public async Task Without_egress_rules_in_place_deploys_are_refused_by_the_one_gate_and_start_says_why()
    {
        // No such iptables: the rules cannot be installed, as on a host without the package.
        var egress = new EgressOptions { IptablesCommand = "/nonexistent/iptables", Ip6tablesCommand = "/nonexistent/ip6tables", DnsResolvers = [] };
        await using var harness = await MemoryRuntime.StartAsync(o => o with { Egress = egress });
        var runtime = harness.Runtime;
        await Assert.That(runtime.EgressProblem).Contains("not installed");
        await Assert.That(runtime.Firewall).IsNotNull();

        var error = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(MemoryRuntime.App(), Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.EgressUnavailable);
        await Assert.That(error.Message).StartsWith("deploy refused: ");
        await Assert.That(harness.Engine.ContainerIds).IsEmpty();
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);

        var report = await runtime.ReconcileAsync();
        await Assert.That(report.Problems).Contains(runtime.EgressProblem!);
    }

    [Test]
    public async Task Disposing_the_runtime_disposes_its_engine()
    {
        var harness = await MemoryRuntime.StartAsync();
        await harness.DisposeAsync();
        await Assert.That(harness.Engine.Disposals).IsEqualTo(1);
    }
}

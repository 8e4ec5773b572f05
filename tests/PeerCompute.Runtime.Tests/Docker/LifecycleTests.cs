using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

public sealed class LifecycleTests
{
    private const string Owner = "12D3KooWOwnerLifecycle";
    private const string Stranger = "12D3KooWSomeoneElse";

    [Test]
    public async Task Deploy_status_logs_stop_remove_round_trip()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var spec = RuntimeHarness.Busybox("roundtrip", RuntimeHarness.Shell("echo out-line; echo err-line >&2; " + RuntimeHarness.ServeHttp));
        var deployed = await runtime.DeployAsync(spec, Owner);
        await Assert.That(deployed.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(deployed.HostPort).IsNotNull();
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        var status = await runtime.GetStatusAsync(deployed.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.Uptime).IsNotNull();
        await Assert.That(status.RestartCount).IsEqualTo(0L);
        await Assert.That(status.ExitCode).IsNull();
        await Assert.That(status.Usage).IsNotNull();
        await Assert.That(status.Usage!.MemoryBytes).IsGreaterThan(0L);
        await Assert.That(status.Usage.MemoryLimitBytes).IsEqualTo(64 * RuntimeOptions.MiB);
        await Assert.That(status.Usage.CpuTime).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(status.Usage.Processes).IsGreaterThanOrEqualTo(1L);

        var logs = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner));
        await Assert.That(logs.Single(l => l.Text == "out-line").Stream).IsEqualTo(LogStream.Stdout);
        await Assert.That(logs.Single(l => l.Text == "err-line").Stream).IsEqualTo(LogStream.Stderr);
        var stderrOnly = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Stdout = false }));
        await Assert.That(string.Join(",", stderrOnly.Select(l => l.Text))).IsEqualTo("err-line");
        await Assert.That(logs[0].Timestamp).IsGreaterThan(status.CreatedAt.AddMinutes(-1));

        await Assert.That(runtime.GetCapacity().UsedCpuMillicores).IsEqualTo(250);
        var stopped = await runtime.StopAsync(deployed.Id, Owner);
        await Assert.That(stopped.State).IsEqualTo(DeploymentState.Stopped);
        await Assert.That(stopped.ExitCode).IsNotNull();
        await Assert.That(runtime.GetCapacity().UsedCpuMillicores).IsEqualTo(0);
        // The stopped container keeps its logs for its owner.
        await Assert.That((await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner))).Select(l => l.Text)).Contains("out-line");

        await runtime.RemoveAsync(deployed.Id, Owner);
        var afterRemove = await Assert.ThrowsAsync<RuntimeException>(() => runtime.GetStatusAsync(deployed.Id, Owner));
        await Assert.That(afterRemove!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
        var inspect = await Cli.DockerAsync("inspect", deployed.ContainerId!);
        await Assert.That(inspect.ExitCode).IsNotEqualTo(0);
        await Assert.That(Directory.GetFiles(Path.Combine(harness.StateFolder, "deployments"))).IsEmpty();
    }

    [Test]
    public async Task Stop_is_graceful_first_and_kills_a_process_that_ignores_sigterm()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { StopTimeout = TimeSpan.FromSeconds(1) });
        var runtime = harness.Runtime;
        var polite = await runtime.DeployAsync(RuntimeHarness.Busybox("polite", RuntimeHarness.Shell("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done")), Owner);
        var stubborn = await runtime.DeployAsync(RuntimeHarness.Busybox("stubborn", RuntimeHarness.Shell("trap '' TERM; echo ready; while true; do sleep 0.1; done")), Owner);
        foreach (var id in new[] { polite.Id, stubborn.Id })
            await Eventually.WaitAsync(async () => (await ReadAllAsync(runtime.StreamLogsAsync(id, Owner))).Any(l => l.Text == "ready"), "the script to install its trap");

        var politeStopped = await runtime.StopAsync(polite.Id, Owner);
        await Assert.That(politeStopped.ExitCode).IsEqualTo(0L);
        await Assert.That((await ReadAllAsync(runtime.StreamLogsAsync(polite.Id, Owner))).Select(l => l.Text)).Contains("got-term");

        var stubbornStopped = await runtime.StopAsync(stubborn.Id, Owner);
        // 137 = 128 + SIGKILL: the grace ran out.
        await Assert.That(stubbornStopped.ExitCode).IsEqualTo(137L);
        await Assert.That(stubbornStopped.State).IsEqualTo(DeploymentState.Stopped);
    }

    [Test]
    public async Task Logs_honour_tail_and_since()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var spec = RuntimeHarness.Busybox("counter", RuntimeHarness.Shell("for i in 1 2 3 4 5; do echo line-$i; done; " + RuntimeHarness.ServeHttp));
        var deployed = await runtime.DeployAsync(spec, Owner);
        var all = await Eventually.WaitAsync(async () =>
        {
            var lines = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner));
            return lines.Count == 5 ? lines : null;
        }, "five log lines");

        var tail = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Tail = 2 }));
        await Assert.That(string.Join(",", tail.Select(l => l.Text))).IsEqualTo("line-4,line-5");

        var since = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Since = all[^1].Timestamp.AddSeconds(1) }));
        await Assert.That(since).IsEmpty();
        var sinceStart = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Since = all[0].Timestamp.AddSeconds(-1) }));
        await Assert.That(sinceStart.Count).IsEqualTo(5);
    }

    [Test]
    public async Task Followed_logs_stream_new_lines_and_end_when_the_container_stops()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        // Prints a line each time the fifo-less loop wakes; stops itself after the third.
        var spec = RuntimeHarness.Busybox("follower", RuntimeHarness.Shell("for i in 1 2 3; do echo tick-$i; sleep 0.3; done; echo bye >&2"));
        var deployed = await harness.Runtime.DeployAsync(spec, Owner);

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var lines = await ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner, new LogOptions { Follow = true }, guard.Token));
        await Assert.That(guard.IsCancellationRequested).IsFalse();
        await Assert.That(string.Join(",", lines.Select(l => l.Text))).IsEqualTo("tick-1,tick-2,tick-3,bye");
        await Assert.That(lines[^1].Stream).IsEqualTo(LogStream.Stderr);
    }

    [Test]
    public async Task Another_owner_cannot_see_stop_read_or_remove_a_deployment()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("private"), Owner);

        await ExpectNotFound(() => runtime.GetStatusAsync(deployed.Id, Stranger));
        await ExpectNotFound(() => runtime.StopAsync(deployed.Id, Stranger));
        await ExpectNotFound(() => runtime.RemoveAsync(deployed.Id, Stranger));
        await ExpectNotFound(() => ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Stranger)));
        await Assert.That(await runtime.ListAsync(Stranger)).IsEmpty();
        await Assert.That((await runtime.ListAsync(Owner)).Single().Id).IsEqualTo(deployed.Id);
        await Assert.That((await runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false)).State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task A_deploy_of_a_missing_image_fails_clearly_and_leaves_nothing_behind()
    {
        // A registry on a closed loopback port (allowed, as loopback is refused by default): the pull fails fast without leaving the machine.
        await using var harness = await RuntimeHarness.StartAsync(o => o with { AllowedRegistries = ["127.0.0.1:9"] });
        var runtime = harness.Runtime;
        var spec = RuntimeHarness.Busybox("ghost") with { Image = "127.0.0.1:9/peercompute-test/absent:1" };
        var error = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(spec, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImagePullFailed);
        await Assert.That(error.Message).Contains("127.0.0.1:9/peercompute-test/absent:1");
        await Assert.That(error.Message).Contains("could not be reached");
        await Assert.That(error.Message).DoesNotContain("connection refused");

        var capacity = runtime.GetCapacity();
        await Assert.That(capacity.Deploys).IsEqualTo(0);
        await Assert.That(capacity.UsedCpuMillicores).IsEqualTo(0);
        await Assert.That(await runtime.ListAsync(Owner)).IsEmpty();
        await Assert.That(Directory.GetFiles(Path.Combine(harness.StateFolder, "deployments"))).IsEmpty();
        var left = await Cli.DockerAsync("ps", "-aq", "--filter", $"label=io.peercompute.instance={harness.Options.Instance}");
        await Assert.That(left.Stdout.Trim()).IsEqualTo("");
    }

    [Test]
    public async Task Requests_for_host_access_are_refused_not_ignored()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var basis = RuntimeHarness.Busybox("greedy");
        DeploymentSpec[] refused =
        [
            basis with { Privileged = true },
            basis with { Volumes = ["/:/host"] },
            basis with { Devices = ["/dev/kmsg"] },
            basis with { CapAdd = ["SYS_ADMIN"] },
            basis with { SecurityOptions = ["seccomp=unconfined"] },
            basis with { HostNetwork = true },
            basis with { HostPid = true },
            basis with { HostIpc = true },
            basis with { HostUts = true },
        ];
        foreach (var spec in refused)
        {
            var error = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(spec, Owner));
            await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.InvalidSpec);
        }
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
    }

    private static async Task ExpectNotFound(Func<Task> action)
    {
        var error = await Assert.ThrowsAsync<RuntimeException>(action);
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
    }

    internal static async Task<List<ContainerLogLine>> ReadAllAsync(IAsyncEnumerable<ContainerLogLine> entries)
    {
        var list = new List<ContainerLogLine>();
        await foreach (var entry in entries)
            list.Add(entry);
        return list;
    }
}

using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>The confinement seen from the workload's side: what a process in the container cannot do.</summary>
public sealed class ConfinementInsideTests
{
    private const string Owner = "12D3KooWOwnerInside";

    // Each probe prints "name=<exit code>" so the log shows which step failed and why.
    private const string Probes = """
        grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
        mount -t tmpfs none /mnt; echo "mount=$?"
        ping -c1 -W1 127.0.0.1; echo "rawsocket=$?"
        touch /tmp/owned-by-root && chown 65534 /tmp/owned-by-root; echo "chown=$?"
        echo x > /written-to-root; echo "rootwrite=$?"
        echo y > /tmp/written-to-tmp; echo "tmpwrite=$?"
        echo "cfsquota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max)"
        echo "probes-done"
        """;

    [Test]
    public async Task Mount_raw_sockets_chown_and_root_writes_fail_inside_while_tmp_stays_writable()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var spec = RuntimeHarness.Busybox("probes", RuntimeHarness.Shell(Probes + "\n" + RuntimeHarness.ServeHttp)) with { CpuMillicores = 500 };
        var status = await harness.Runtime.DeployAsync(spec, Owner);
        await Http.GetWhenReadyAsync(status.HostPort!.Value);

        var lines = new List<ContainerLogLine>();
        await foreach (var entry in harness.Runtime.StreamLogsAsync(status.Id, Owner))
            lines.Add(entry);
        string stdout = string.Join('\n', lines.Where(l => l.Stream == LogStream.Stdout).Select(l => l.Text));
        string stderr = string.Join('\n', lines.Where(l => l.Stream == LogStream.Stderr).Select(l => l.Text));

        await Assert.That(stdout).Contains("probes-done");
        await Assert.That(stdout).Contains("CapEff:\t0000000000000000");
        await Assert.That(stdout).Contains("NoNewPrivs:\t1");
        // 2 = filter mode: the engine's default seccomp profile is loaded.
        await Assert.That(stdout).Contains("Seccomp:\t2");
        await Assert.That(stdout).Contains("mount=1");
        await Assert.That(stdout).Contains("rawsocket=1");
        await Assert.That(stdout).Contains("chown=1");
        await Assert.That(stdout).Contains("rootwrite=1");
        await Assert.That(stdout).Contains("tmpwrite=0");
        await Assert.That(stderr).Contains("mount: permission denied");
        await Assert.That(stderr).Contains("ping: permission denied");
        await Assert.That(stderr).Contains("chown: /tmp/owned-by-root: Operation not permitted");
        await Assert.That(stderr).Contains("Read-only file system");
        // 500 millicores = half of each 100 ms CFS period.
        await Assert.That(stdout).Contains("cfsquota=50000");
    }

    [Test]
    public async Task Opting_out_of_the_read_only_root_lets_the_image_write_elsewhere()
    {
        // The shared engine (overlay2 on ext4) cannot cap the writable layer: only an operator's allowance runs it (WritableLayerTests).
        await using var harness = await RuntimeHarness.StartAsync(o => o with { AllowUnboundedWritable = true });
        var spec = RuntimeHarness.Busybox("writable", RuntimeHarness.Shell("mkdir -p /data && echo kept > /data/file && cat /data/file; " + RuntimeHarness.ServeHttp))
            with { ReadOnlyRootFilesystem = false };
        var status = await harness.Runtime.DeployAsync(spec, Owner);
        await Http.GetWhenReadyAsync(status.HostPort!.Value);

        var inspect = await TestEngine.InspectAsync(status.ContainerId!);
        await Assert.That(inspect.GetProperty("HostConfig").GetProperty("ReadonlyRootfs").GetBoolean()).IsFalse();
        var lines = new List<string>();
        await foreach (var entry in harness.Runtime.StreamLogsAsync(status.Id, Owner))
            lines.Add(entry.Text);
        await Assert.That(lines).Contains("kept");
    }

    [Test]
    public async Task A_process_allocating_past_the_memory_limit_is_oom_killed_and_status_says_so()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartPolicy = ContainerRestartPolicy.No });
        // tail buffers a newline-free stream without bound.
        var spec = RuntimeHarness.Busybox("hungry", ["tail", "/dev/zero"]) with { MemoryBytes = 16 * RuntimeOptions.MiB };
        var deployed = await harness.Runtime.DeployAsync(spec, Owner);

        // containerd may report the exit a moment before its OOM event (containerd/containerd#12714): wait for both,
        // as HostileImageTests does; a container that exits without the flag fails at the deadline.
        var status = await Eventually.WaitAsync(async () =>
        {
            var s = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s is { State: DeploymentState.Exited, OomKilled: true } ? s : null;
        }, "the container to be OOM-killed");
        await Assert.That(status.OomKilled).IsTrue();
        await Assert.That(status.ExitCode).IsEqualTo(137L);
    }

    [Test]
    public async Task A_container_that_exits_early_shows_its_exit_code_and_last_log_lines()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartPolicy = ContainerRestartPolicy.No });
        var spec = RuntimeHarness.Busybox("crasher", RuntimeHarness.Shell("echo starting; echo 'config file /etc/app.conf missing' >&2; exit 3"));
        var deployed = await harness.Runtime.DeployAsync(spec, Owner);

        var status = await Eventually.WaitAsync(async () =>
        {
            var s = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s.State == DeploymentState.Exited ? s : null;
        }, "the container to exit");
        await Assert.That(status.ExitCode).IsEqualTo(3L);
        await Assert.That(status.OomKilled).IsFalse();
        await Assert.That(status.HostPort).IsNull();
        await AssertShowsCause(status);
    }

    [Test]
    public async Task Under_the_default_restart_policy_a_crashing_container_shows_restarts_exit_code_and_cause()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var spec = RuntimeHarness.Busybox("crashloop", RuntimeHarness.Shell("echo starting; echo 'config file /etc/app.conf missing' >&2; exit 3"));
        var deployed = await harness.Runtime.DeployAsync(spec, Owner);

        var status = await Eventually.WaitAsync(async () =>
        {
            var s = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s.State == DeploymentState.Restarting && s.RestartCount >= 1 ? s : null;
        }, "the engine to restart the crashing container");
        await Assert.That(status.ExitCode).IsEqualTo(3L);
        await AssertShowsCause(status);
    }

    private static async Task AssertShowsCause(DeploymentStatus status)
    {
        var last = status.LastLogLines;
        await Assert.That(last.Any(l => l.Stream == LogStream.Stderr && l.Text == "config file /etc/app.conf missing")).IsTrue();
        await Assert.That(last.Any(l => l.Stream == LogStream.Stdout && l.Text == "starting")).IsTrue();
    }
}

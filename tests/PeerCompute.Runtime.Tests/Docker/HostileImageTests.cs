using System.Diagnostics;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Images that attack the provider: fork bomb, memory bomb, disk and log fillers, escape attempts.
/// Each runs as a deployment of the runtime; the assertions are about the host and the neighbours.
/// </summary>
public sealed class HostileImageTests
{
    private const string Owner = "12D3KooWOwnerHostile";

    [Test]
    public async Task A_fork_bomb_stops_at_the_pid_limit_while_the_host_and_a_neighbour_carry_on()
    {
        const long limit = 64;
        await using var harness = await RuntimeHarness.StartAsync(o => o with { PidsLimit = limit });
        var neighbour = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("neighbour", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(neighbour.HostPort!.Value);

        // Each process starts two more, then stays (as sleep): the bomb holds most of the pids it gets. A shell whose
        // fork is refused exits, so how many stay once the limit is hit is a race (64 on one engine, 62 on another):
        // the proof that the limit was reached is the kernel refusing a fork ("can't fork" in the bomb's stderr).
        var bomb = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("forkbomb",
            RuntimeHarness.Shell("bomb() { bomb & bomb & exec sleep 3600; }; bomb")), Owner);
        var samples = new List<string>();
        var full = await Eventually.WaitAsync(async () =>
        {
            var s = await harness.Runtime.GetStatusAsync(bomb.Id, Owner, includeUsage: true);
            samples.Add($"{s.State}/{s.Usage?.Processes.ToString() ?? "-"}");
            if (s.Usage is not { Processes: >= limit / 2 })
                return null;
            var (_, stderr) = await LogsAsync(harness, bomb.Id);
            return stderr.Contains("can't fork", StringComparison.Ordinal) ? s : null;
        }, "the fork bomb to reach the pid limit").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result
            : throw new TimeoutException($"the fork bomb did not reach the pid limit; state/processes seen: {string.Join(' ', samples.TakeLast(30))}", t.Exception));
        await Assert.That(full.Usage!.Processes).IsLessThanOrEqualTo(limit);
        await Assert.That(full.State).IsEqualTo(DeploymentState.Running);

        // The host can still start processes, and the neighbour still serves.
        using (var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            await process.WaitForExitAsync();
            await Assert.That(process.ExitCode).IsEqualTo(0);
        }
        await Assert.That(await Http.GetWhenReadyAsync(neighbour.HostPort!.Value)).Contains("peercompute test page");
        // A second look: still capped, not creeping past it.
        var again = await harness.Runtime.GetStatusAsync(bomb.Id, Owner, includeUsage: true);
        await Assert.That(again.Usage!.Processes).IsLessThanOrEqualTo(limit);

        // And the owner can still stop it: every process of the bomb goes.
        var stopped = await harness.Runtime.StopAsync(bomb.Id, Owner);
        await Assert.That(stopped.State).IsEqualTo(DeploymentState.Stopped);
        var neighbourStatus = await harness.Runtime.GetStatusAsync(neighbour.Id, Owner);
        await Assert.That(neighbourStatus.State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task A_memory_bomb_is_oom_killed_alone_and_its_neighbour_keeps_serving()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartPolicy = ContainerRestartPolicy.No });
        var neighbour = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("neighbour", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(neighbour.HostPort!.Value);

        var hog = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("hog", ["tail", "/dev/zero"]) with { MemoryBytes = 16 * RuntimeOptions.MiB }, Owner);
        // containerd may deliver the container's exit before its OOM event (containerd/containerd#12714), so the
        // engine can show "exited, not OOM-killed" for a moment before the flag lands: wait for both, and name what was
        // last seen if the flag never comes.
        DeploymentStatus? last = null;
        var killed = await Eventually.WaitAsync(async () =>
        {
            last = await harness.Runtime.GetStatusAsync(hog.Id, Owner);
            return last is { State: DeploymentState.Exited, OomKilled: true } ? last : null;
        }, "the memory bomb to be OOM-killed").ContinueWith(t => t.IsCompletedSuccessfully ? t.Result
            : throw new TimeoutException($"the memory bomb was not reported OOM-killed; last seen {last?.State} exit {last?.ExitCode} oom {last?.OomKilled}", t.Exception));
        await Assert.That(killed.ExitCode).IsEqualTo(137L);

        var other = await harness.Runtime.GetStatusAsync(neighbour.Id, Owner, includeUsage: true);
        await Assert.That(other.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(other.OomKilled).IsFalse();
        await Assert.That(other.RestartCount).IsEqualTo(0L);
        await Assert.That(await Http.GetWhenReadyAsync(neighbour.HostPort!.Value)).Contains("peercompute test page");
    }

    [Test]
    public async Task Disk_fillers_stop_at_the_tmpfs_size_and_cannot_write_the_root_or_the_engine_files()
    {
        const long tmpfs = 8 * RuntimeOptions.MiB;
        await using var harness = await RuntimeHarness.StartAsync(o => o with { TmpfsSizeBytes = tmpfs });
        const string script = """
            dd if=/dev/zero of=/tmp/fill bs=1M count=64; echo "tmpdd=$?"
            echo "tmpkib=$(du -k /tmp/fill | cut -f1)"
            dd if=/dev/zero of=/fill bs=1M count=1; echo "rootdd=$?"
            mkdir -p /var/fill; echo "mkdir=$?"
            for f in /etc/hosts /etc/resolv.conf /etc/hostname; do echo x >> $f || echo "engine-file-refused"; done
            echo probes-done
            """;
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("filler", RuntimeHarness.Shell(script + "\n" + RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, stderr) = await LogsAsync(harness, deployed.Id);

        await Assert.That(stdout).Contains("probes-done");
        await Assert.That(stdout).DoesNotContain("tmpdd=0");
        await Assert.That(stderr).Contains("No space left on device");
        long kib = long.Parse(Line(stdout, "tmpkib"), System.Globalization.CultureInfo.InvariantCulture);
        await Assert.That(kib * 1024).IsLessThanOrEqualTo(tmpfs);
        await Assert.That(kib * 1024).IsGreaterThan(tmpfs / 2);
        await Assert.That(stdout).Contains("rootdd=1");
        await Assert.That(stdout).Contains("mkdir=1");
        // /etc/hosts and friends are files of the engine on the host's disk: bind-mounted read-only.
        await Assert.That(stdout.Split('\n').Count(l => l.Trim() == "engine-file-refused")).IsEqualTo(3);
    }

    [Test]
    public async Task A_log_flood_is_bounded_by_rotation_on_the_host()
    {
        const long maxSize = 100 * 1024;
        const int maxFiles = 2;
        await using var harness = await RuntimeHarness.StartAsync(o => o with { LogMaxSize = "100k", LogMaxFiles = maxFiles });
        // About 20 MB of output, 200 times what may be kept, then a marker.
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("flood", RuntimeHarness.Shell(
            "yes 0123456789abcdef0123456789abcdef0123456789abcdef | head -c 20000000; echo flood-done; " + RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value, TimeSpan.FromMinutes(2));
        await Eventually.WaitAsync(async () => (await LogsAsync(harness, deployed.Id)).Stdout.Contains("flood-done"), "the flood to end");

        var inspect = await TestEngine.InspectAsync(deployed.ContainerId!);
        string logPath = inspect.GetProperty("LogPath").GetString()!;
        var files = Directory.GetFiles(Path.GetDirectoryName(logPath)!, Path.GetFileName(logPath) + "*");
        long total = files.Sum(f => new FileInfo(f).Length);
        await Assert.That(files.Length).IsLessThanOrEqualTo(maxFiles);
        // Rotation happens once a file passes max-size, so each may hold one more entry (~150 bytes here).
        foreach (string file in files)
            await Assert.That(new FileInfo(file).Length).IsLessThanOrEqualTo(maxSize + 4096);
        await Assert.That(total).IsLessThanOrEqualTo(maxFiles * (maxSize + 4096));
    }

    [Test]
    public async Task Escape_attempts_fail_no_engine_socket_no_devices_no_kernel_knobs_no_namespaces()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        const string script = """
            echo "sockets=$(find / -xdev -name '*.sock' 2>/dev/null | wc -l)"
            ls /var/run/docker.sock /run/docker.sock; echo "dockersock=$?"
            echo "blockdevs=$(ls /dev | grep -cE '^(sd|vd|xvd|nvme|hd|loop|dm-|mem$|kmem$|port$)')"
            mknod /tmp/disk b 8 0; echo "mknod=$?"
            echo 1 > /proc/sys/vm/drop_caches; echo "procsys=$?"
            echo h > /proc/sysrq-trigger; echo "sysrq=$?"
            echo 1 > /sys/kernel/mm/ksm/run; echo "sysfs=$?"
            head -c 16 /proc/kcore > /dev/null; echo "kcore=$?"
            dmesg > /dev/null; echo "dmesg=$?"
            unshare -U -r true; echo "userns=$?"
            unshare -n true; echo "netns=$?"
            mount --bind /tmp /mnt; echo "bindmount=$?"
            chroot /tmp /bin/true; echo "chroot=$?"
            echo "apparmor=$(cat /proc/self/attr/current 2>/dev/null)"
            echo probes-done
            """;
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("escape", RuntimeHarness.Shell(script + "\n" + RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, _) = await LogsAsync(harness, deployed.Id);

        await Assert.That(stdout).Contains("probes-done");
        await Assert.That(Line(stdout, "sockets")).IsEqualTo("0");
        await Assert.That(Line(stdout, "dockersock")).IsNotEqualTo("0");
        await Assert.That(Line(stdout, "blockdevs")).IsEqualTo("0");
        foreach (string probe in new[] { "mknod", "procsys", "sysrq", "sysfs", "kcore", "dmesg", "userns", "netns", "bindmount", "chroot" })
            await Assert.That(Line(stdout, probe)).IsNotEqualTo("0").Because(probe + " must fail inside the container");
        // Where the host runs AppArmor, the engine's default profile confines the container.
        if (File.Exists("/sys/module/apparmor/parameters/enabled") && (await File.ReadAllTextAsync("/sys/module/apparmor/parameters/enabled")).Trim() == "Y")
            await Assert.That(Line(stdout, "apparmor")).StartsWith("docker-default");
    }

    private static Task<(string Stdout, string Stderr)> LogsAsync(RuntimeHarness harness, string id) => ContainerOutput.LogsAsync(harness.Runtime, id, Owner);

    private static string Line(string output, string key) => ContainerOutput.Line(output, key);
}

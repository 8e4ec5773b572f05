using System.Globalization;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Named volumes on the real engine with real loop devices: a hard size cap, data that outlives deployments and the
/// provider, one namespace per owner, and the refusals. The harness unmounts and detaches whatever a test leaves.
/// </summary>
public sealed class VolumeTests
{
    private const string Owner = "12D3KooWOwnerVolumes";
    private const string Other = "12D3KooWSomeoneElse";
    private const long Size = 32 * RuntimeOptions.MiB;

    private static DeploymentSpec WithVolume(string name, string script, params VolumeMount[] volumes)
        => RuntimeHarness.Busybox(name, RuntimeHarness.Shell(script + "\n" + RuntimeHarness.ServeHttp)) with { VolumeMounts = volumes };

    private static async Task<string> RunAsync(RuntimeHarness harness, ContainerRuntime runtime, DeploymentSpec spec, string owner = Owner)
    {
        var deployed = await runtime.DeployAsync(spec, owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, stderr) = await ContainerOutput.LogsAsync(runtime, deployed.Id, owner);
        await runtime.StopAsync(deployed.Id, owner);
        await runtime.RemoveAsync(deployed.Id, owner);
        return stdout + "\n" + stderr;
    }

    private static string ImageFile(RuntimeHarness harness, string owner, string name)
        => Path.Combine(harness.StateFolder, "volumes", Volumes.VolumeRecord.KeyFor(owner, name) + ".img");

    [Test]
    public async Task A_container_writing_past_its_volume_gets_ENOSPC_and_the_host_gives_the_volume_no_more_than_its_size()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        // Four times the size.
        const string script = """
            dd if=/dev/zero of=/data/fill bs=1M count=128; echo "dd=$?"
            echo "bytes=$(wc -c < /data/fill)"
            grep " /data " /proc/self/mountinfo | sed 's/^/mount=/'
            """;
        var deployed = await harness.Runtime.DeployAsync(WithVolume("filler", script, new VolumeMount("scratch", "/data", Size)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, stderr) = await ContainerOutput.LogsAsync(harness.Runtime, deployed.Id, Owner);

        await Assert.That(ContainerOutput.Line(stdout, "dd")).IsNotEqualTo("0");
        await Assert.That(stderr).Contains("No space left on device");
        long written = long.Parse(ContainerOutput.Line(stdout, "bytes"), CultureInfo.InvariantCulture);
        await Assert.That(written).IsLessThanOrEqualTo(Size);
        await Assert.That(written).IsGreaterThan(Size / 2);
        // The host's disk holds the sparse file's blocks: never more than the volume's size, however much was written.
        long allocated = await LoopMounts.AllocatedBytesAsync(ImageFile(harness, Owner, "scratch"));
        await Assert.That(allocated).IsLessThanOrEqualTo(Size);
        // Mounted read-write without setuid or device files; the rest of the container's confinement is unchanged.
        string mount = ContainerOutput.Line(stdout, "mount");
        await Assert.That(mount).Contains("nosuid");
        await Assert.That(mount).Contains("nodev");
        await Assert.That(mount).Contains(" rw");
        var host = (await TestEngine.InspectAsync(deployed.ContainerId!)).GetProperty("HostConfig");
        await Assert.That(host.GetProperty("ReadonlyRootfs").GetBoolean()).IsTrue();
        await Assert.That(host.GetProperty("CapDrop")[0].GetString()).IsEqualTo("ALL");
        await Assert.That(host.GetProperty("Binds").ValueKind is System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined
            || host.GetProperty("Binds").GetArrayLength() == 0).IsTrue();
        var bind = host.GetProperty("Mounts").EnumerateArray().Single();
        await Assert.That(bind.GetProperty("Source").GetString()!).StartsWith(Path.Combine(harness.StateFolder, "volumes", "mnt") + "/");
        await Assert.That(bind.GetProperty("Target").GetString()).IsEqualTo("/data");

        var listed = (await harness.Runtime.ListVolumesAsync(Owner)).Single();
        await Assert.That(listed.Name).IsEqualTo("scratch");
        await Assert.That(listed.SizeBytes).IsEqualTo(Size);
        await Assert.That(listed.UsedBytes!.Value).IsGreaterThan(Size / 2);
        await Assert.That(listed.UsedBy).IsEquivalentTo(["filler"]);
        await Assert.That(harness.Runtime.GetCapacity().UsedStorageBytes).IsEqualTo(Size);
    }

    [Test]
    public async Task Data_outlives_a_redeploy_a_provider_restart_and_a_reboot()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var volume = new VolumeMount("notes", "/var/notes", Size);
        string written = await RunAsync(harness, harness.Runtime, WithVolume("writer", "echo kept > /var/notes/a && echo wrote=$?", volume));
        await Assert.That(ContainerOutput.Line(written, "wrote")).IsEqualTo("0");

        // Another deployment (an update) of the same volume, without repeating its size.
        const string read = "echo \"read=$(cat /var/notes/a)\"";
        await Assert.That(ContainerOutput.Line(await RunAsync(harness, harness.Runtime, WithVolume("reader", read, volume with { SizeBytes = null })), "read")).IsEqualTo("kept");

        // A restarted provider: a new runtime on the same home, with the volume still mounted.
        await harness.Runtime.DisposeAsync();
        var restarted = await harness.OpenRuntimeAsync();
        await Assert.That((await restarted.ListVolumesAsync(Owner)).Single().SizeBytes).IsEqualTo(Size);
        await Assert.That(restarted.GetCapacity().UsedStorageBytes).IsEqualTo(Size);
        await Assert.That(ContainerOutput.Line(await RunAsync(harness, restarted, WithVolume("reader", read, volume)), "read")).IsEqualTo("kept");

        // A reboot: nothing mounted any more; the next start mounts it again.
        await restarted.DisposeAsync();
        string mountPoint = Path.Combine(harness.StateFolder, "volumes", "mnt", Volumes.VolumeRecord.KeyFor(Owner, "notes"));
        await Assert.That(LoopMounts.Under(harness.StateFolder)).Contains(mountPoint);
        await TestProcess.RunAsync("umount", [mountPoint]);
        await Assert.That(LoopMounts.Under(harness.StateFolder)).IsEmpty();
        // After a reboot no loop device is attached; here the last container's mount namespace may hold the filesystem
        // (and so its loop device) a moment longer, and the runtime rightly refuses to mount a still-attached file twice.
        string image = Path.Combine(harness.StateFolder, "volumes", Volumes.VolumeRecord.KeyFor(Owner, "notes") + ".img");
        await Eventually.WaitAsync(async () => (await TestProcess.RunAsync("losetup", ["--noheadings", "--associated", image])).StandardOutput.Trim().Length == 0,
            "the volume's loop device to be detached after the unmount");
        var rebooted = await harness.OpenRuntimeAsync();
        await Assert.That(LoopMounts.Under(harness.StateFolder)).Contains(mountPoint);
        await Assert.That(ContainerOutput.Line(await RunAsync(harness, rebooted, WithVolume("reader", read, volume)), "read")).IsEqualTo("kept");
    }

    [Test]
    [Arguments(UpdateStrategy.Rolling)]
    [Arguments(UpdateStrategy.Recreate)]
    public async Task An_update_mounts_the_same_volume_so_the_new_revision_reads_what_the_old_one_wrote(UpdateStrategy strategy)
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var volume = new VolumeMount("state", "/state", Size);
        var first = await harness.Runtime.DeployAsync(WithVolume("app", "echo v1-data > /state/file", volume), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());

        // The new revision serves the file it finds in the volume.
        var next = RuntimeHarness.Busybox("app", RuntimeHarness.Shell("mkdir -p /tmp/www && cp /state/file /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"))
            with { VolumeMounts = [volume with { SizeBytes = null }] };
        var updated = await harness.Runtime.UpdateAsync(first.Id, Owner, next, new UpdateOptions(strategy, new ReadinessOptions { Timeout = TimeSpan.FromSeconds(30) }));
        await Assert.That(updated.Revision).IsEqualTo(2);
        await Assert.That(harness.Runtime.Routes.TryGetUpstream("app", out var upstream)).IsTrue();
        using var client = new HttpClient();
        await Assert.That((await client.GetStringAsync($"http://{upstream}/")).Trim()).IsEqualTo("v1-data");
        // One volume, held once, in use by the deployment's new container.
        var volumes = await harness.Runtime.ListVolumesAsync(Owner);
        await Assert.That(volumes.Count).IsEqualTo(1);
        await Assert.That(harness.Runtime.GetCapacity().UsedStorageBytes).IsEqualTo(Size);
        var inspect = await TestEngine.InspectAsync(updated.Status.ContainerId!);
        await Assert.That(inspect.GetProperty("Mounts").EnumerateArray().Any(m => m.GetProperty("Destination").GetString() == "/state")).IsTrue();
    }

    [Test]
    public async Task A_reboot_of_the_engine_and_the_provider_brings_the_deployment_back_with_its_volume()
    {
        await using var engine = await PrivateEngine.StartAsync();
        await using var harness = await RuntimeHarness.StartAsync(engine: engine);
        // Each start adds a line to the volume and serves the file: the lines count the starts that the data outlived.
        const string script = "echo boot >> /data/boots; mkdir -p /tmp/www; cp /data/boots /tmp/www/index.html; exec httpd -f -p 8080 -h /tmp/www";
        var deployed = await harness.Runtime.DeployAsync(
            RuntimeHarness.Busybox("diary", RuntimeHarness.Shell(script)) with { VolumeMounts = [new VolumeMount("diary", "/data", Size)] }, Owner);
        await Assert.That((await Http.GetWhenReadyAsync(deployed.HostPort!.Value)).Trim()).IsEqualTo("boot");

        // The reboot: the provider goes, the engine goes (its containers with it), and so does the volume's mount.
        await harness.Runtime.DisposeAsync();
        await engine.StopDockerdAsync();
        await LoopMounts.RemoveUnderAsync(harness.StateFolder);
        await Assert.That(LoopMounts.Under(harness.StateFolder)).IsEmpty();
        await engine.StartDockerdAsync();
        var rebooted = await harness.OpenRuntimeAsync();

        var back = await Eventually.WaitAsync(async () =>
        {
            var s = await rebooted.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s is { State: Status.DeploymentState.Running, HostPort: not null } ? s : null;
        }, "the deployment to run again after the reboot", TimeSpan.FromSeconds(90));
        string page = await Http.GetWhenReadyAsync(back.HostPort!.Value);
        await Assert.That(page.Split('\n', StringSplitOptions.RemoveEmptyEntries)).IsEquivalentTo(new[] { "boot", "boot" });
        await Assert.That((await rebooted.ListVolumesAsync(Owner)).Single().Name).IsEqualTo("diary");
    }

    [Test]
    public async Task Another_owner_neither_mounts_nor_removes_a_volume_of_the_same_name()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var volume = new VolumeMount("db", "/data", Size);
        await RunAsync(harness, runtime, WithVolume("mine", "echo secret > /data/s", volume));

        await Assert.That(await runtime.ListVolumesAsync(Other)).IsEmpty();
        var removal = await Assert.ThrowsAsync<RuntimeException>(() => runtime.RemoveVolumeAsync(Other, "db"));
        await Assert.That(removal!.Code).IsEqualTo(RuntimeErrorCode.NotFound);

        // Their "db" is a volume of their own: empty, and writing to it leaves the first owner's untouched.
        string theirs = await RunAsync(harness, runtime, WithVolume("theirs", "echo \"found=$(ls /data | wc -l)\"; echo other > /data/s", volume), Other);
        await Assert.That(ContainerOutput.Line(theirs, "found")).IsEqualTo("0");
        string mine = await RunAsync(harness, runtime, WithVolume("mine", "echo \"read=$(cat /data/s)\"", volume));
        await Assert.That(ContainerOutput.Line(mine, "read")).IsEqualTo("secret");
        await Assert.That((await runtime.ListVolumesAsync(Owner)).Single().Name).IsEqualTo("db");
        await Assert.That((await runtime.ListVolumesAsync(Other)).Single().Name).IsEqualTo("db");
        await Assert.That(runtime.GetCapacity().UsedStorageBytes).IsEqualTo(2 * Size);
    }

    [Test]
    public async Task Removing_a_volume_is_refused_while_a_deployment_uses_it_and_then_frees_its_storage()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(WithVolume("app", "true", new VolumeMount("cache", "/cache", Size)), Owner);

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => runtime.RemoveVolumeAsync(Owner, "cache"));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.VolumeInUse);
        await Assert.That(refused.Message).Contains("app");
        await Assert.That(File.Exists(ImageFile(harness, Owner, "cache"))).IsTrue();

        await runtime.StopAsync(deployed.Id, Owner);
        await runtime.RemoveVolumeAsync(Owner, "cache");
        await Assert.That(await runtime.ListVolumesAsync(Owner)).IsEmpty();
        await Assert.That(File.Exists(ImageFile(harness, Owner, "cache"))).IsFalse();
        await Assert.That(LoopMounts.Under(harness.StateFolder)).IsEmpty();
        await Assert.That(runtime.GetCapacity().UsedStorageBytes).IsEqualTo(0);
    }

    [Test]
    public async Task A_volume_bigger_than_the_free_storage_is_refused_by_admission_and_nothing_is_made()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxStorageBytes = 64 * RuntimeOptions.MiB });
        var runtime = harness.Runtime;
        await runtime.DeployAsync(WithVolume("first", "true", new VolumeMount("big", "/data", 48 * RuntimeOptions.MiB)), Owner);

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(WithVolume("second", "true", new VolumeMount("more", "/data", Size)), Owner));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
        await Assert.That(refused.Message).IsEqualTo("max-storage: new volumes need 32 GiB, free 16 GiB of 64 GiB".Replace("GiB", "MiB", StringComparison.Ordinal));
        await Assert.That(File.Exists(ImageFile(harness, Owner, "more"))).IsFalse();
        await Assert.That((await runtime.ListAsync(Owner)).Count).IsEqualTo(1);
        // The existing volume does not count again.
        await runtime.DeployAsync(WithVolume("second", "true", new VolumeMount("big", "/data")), Owner);
    }

    [Test]
    public async Task A_deploy_that_fails_after_creating_a_volume_leaves_no_volume_behind()
    {
        // A registry on a closed loopback port: the pull fails fast, while (or after) the volume is made.
        await using var harness = await RuntimeHarness.StartAsync(o => o with { AllowedRegistries = ["127.0.0.1:9"] });
        var missing = WithVolume("broken", "true", new VolumeMount("tmpvol", "/data", Size)) with { Image = "127.0.0.1:9/peercompute-test/absent:1" };
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(missing, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImagePullFailed);
        await Assert.That(await harness.Runtime.ListVolumesAsync(Owner)).IsEmpty();
        await Assert.That(harness.Runtime.GetCapacity().UsedStorageBytes).IsEqualTo(0);
        await Assert.That(LoopMounts.Under(harness.StateFolder)).IsEmpty();
    }

    [Test]
    public async Task After_a_reboot_the_engine_cannot_start_a_container_without_its_volume_and_the_provider_starts_it_once_mounted()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        const string serve = "[ -f /srv/index.html ] || echo on-volume > /srv/index.html; exec httpd -f -p 8080 -h /srv";
        var spec = RuntimeHarness.Busybox("pages", RuntimeHarness.Shell(serve)) with { VolumeMounts = [new VolumeMount("pages", "/srv", Size)] };
        var deployed = await harness.Runtime.DeployAsync(spec, Owner);
        await Assert.That(await Http.GetWhenReadyAsync(deployed.HostPort!.Value)).Contains("on-volume");

        // The reboot: the provider and the container stop, the host's mounts are gone.
        await harness.Runtime.DisposeAsync();
        (await Cli.DockerAsync("stop", "-t", "1", deployed.ContainerId!)).EnsureSuccess("docker stop");
        string mountPoint = Path.Combine(harness.StateFolder, "volumes", "mnt", Volumes.VolumeRecord.KeyFor(Owner, "pages"));
        await TestProcess.RunAsync("umount", [mountPoint]);
        await Assert.That(LoopMounts.Under(harness.StateFolder)).IsEmpty();

        // The engine restarting it before the provider runs: refused, so nothing lands on the host's disk.
        var early = await Cli.DockerAsync("start", deployed.ContainerId!);
        await Assert.That(early.ExitCode).IsNotEqualTo(0);
        await Assert.That(Directory.EnumerateFileSystemEntries(mountPoint)).IsEmpty();

        var rebooted = await harness.OpenRuntimeAsync();
        var status = await Eventually.WaitAsync(async () =>
        {
            var s = await rebooted.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s.State == Status.DeploymentState.Running && s.HostPort is not null ? s : null;
        }, "the deployment running again");
        await Assert.That(await Http.GetWhenReadyAsync(status.HostPort!.Value)).Contains("on-volume");
    }

    [Test]
    public async Task Two_deploys_that_first_use_one_volume_at_once_share_one_volume_counted_once()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxStorageBytes = 48 * RuntimeOptions.MiB });
        var volume = new VolumeMount("shared", "/data", Size);
        var both = await Task.WhenAll(
            harness.Runtime.DeployAsync(WithVolume("left", "echo left > /data/left", volume), Owner),
            harness.Runtime.DeployAsync(WithVolume("right", "echo right > /data/right", volume), Owner));
        foreach (var deployed in both)
            await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        var listed = (await harness.Runtime.ListVolumesAsync(Owner)).Single();
        await Assert.That(listed.UsedBy).IsEquivalentTo(["left", "right"]);
        await Assert.That(harness.Runtime.GetCapacity().UsedStorageBytes).IsEqualTo(Size);
        string seen = await RunAsync(harness, harness.Runtime, WithVolume("reader", "echo \"files=$(ls /data | tr '\\n' ' ')\"", volume));
        await Assert.That(ContainerOutput.Line(seen, "files").Trim()).IsEqualTo("left right");
    }
}

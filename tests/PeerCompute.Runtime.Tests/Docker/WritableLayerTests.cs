using System.Globalization;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// <c>--writable</c> roots and the provider's disk: a writable layer is capped where the engine's storage driver can
/// enforce it, and refused where it cannot unless the operator allows unbounded ones.
/// </summary>
public sealed class WritableLayerTests
{
    private const string Owner = "12D3KooWOwnerWritable";
    private const long Cap = 64 * RuntimeOptions.MiB;

    /// <summary>
    /// The enforcing case: a private dockerd whose data root is a loop-mounted filesystem that can cap a container's
    /// writable layer. overlay2 does so only on xfs mounted with prjquota, and the kernel of this project's test machines
    /// is built without XFS quota support (mount -o prjquota: "XFS: quota support not available in this kernel",
    /// CONFIG_XFS_QUOTA unset), so the engine runs the btrfs driver, which caps the layer with a btrfs qgroup: the
    /// same Docker option (<c>--storage-opt size=</c>) on the same code path of the runtime.
    /// </summary>
    [Test]
    public async Task On_an_engine_that_can_cap_it_a_writable_root_stops_at_the_cap_and_the_host_disk_is_untouched()
    {
        await using var filesystem = await LoopFilesystem.CreateAsync("btrfs", 1 * RuntimeOptions.GiB);
        await TestEngine.EnsureReadyAsync();
        await using var engine = await PrivateDockerd.StartAsync(new PrivateDockerdOptions
        {
            OwnBridge = true,
            Image = TestEngine.BusyboxImage,
            DataRoot = Path.Combine(filesystem.MountPoint, "data"),
            StorageDriver = "btrfs",
        });
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxWritableBytes = Cap }, engine: engine);
        var storage = harness.Runtime.Storage!;
        await Assert.That(storage.CapsWritableLayer).IsTrue().Because(storage.CapProblem ?? "");
        await Assert.That(storage.Driver).IsEqualTo("btrfs");
        long before = await filesystem.AllocatedBytesAsync();

        // Four times the cap, into the root filesystem (not /tmp, which is a tmpfs of its own).
        const string script = """
            dd if=/dev/zero of=/fill bs=1M count=256; echo "dd=$?"
            echo "bytes=$(wc -c < /fill)"
            """;
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("filler", RuntimeHarness.Shell(script + "\n" + RuntimeHarness.ServeHttp)) with { ReadOnlyRootFilesystem = false }, Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, stderr) = await ContainerOutput.LogsAsync(harness.Runtime, deployed.Id, Owner);

        await Assert.That(ContainerOutput.Line(stdout, "dd")).IsNotEqualTo("0");
        // overlay2 on xfs reports a full project as ENOSPC; a btrfs qgroup as EDQUOT.
        await Assert.That(stderr.Contains("Disk quota exceeded", StringComparison.Ordinal) || stderr.Contains("No space left on device", StringComparison.Ordinal))
            .IsTrue().Because(stderr);
        long written = long.Parse(ContainerOutput.Line(stdout, "bytes"), CultureInfo.InvariantCulture);
        await Assert.That(written).IsLessThanOrEqualTo(Cap);
        await Assert.That(written).IsGreaterThan(Cap / 2);
        var inspect = await engine.DockerAsync("inspect", "--format", "{{json .HostConfig.StorageOpt}}", deployed.ContainerId!);
        await Assert.That(inspect.StandardOutput).Contains($"\"size\":\"{Cap}\"");

        // What the container wrote went to the loop filesystem, and the host's disk grew by at most about the cap.
        long grown = await filesystem.AllocatedBytesAsync() - before;
        await Assert.That(grown).IsLessThan(Cap + 32 * RuntimeOptions.MiB);
    }

    [Test]
    public async Task On_an_engine_that_cannot_cap_it_a_writable_root_is_refused_unless_the_operator_allows_it()
    {
        // The shared test engine: overlay2 on ext4, which cannot enforce a writable layer's size.
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var storage = runtime.Storage!;
        await Assert.That(storage.CapsWritableLayer).IsFalse().Because($"the shared engine is expected to be overlay2 on ext4, it is {storage.Describe()}");
        // The engine's own refusal of the probe's capped create, not a failure before it.
        await Assert.That(storage.CapProblem).Contains("storage-opt");

        var writable = RuntimeHarness.Busybox("scratch", RuntimeHarness.Shell("echo x > /written && " + RuntimeHarness.ServeHttp)) with { ReadOnlyRootFilesystem = false };
        var refused = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(writable, Owner));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.WritableUnbounded);
        await Assert.That(refused.Message).Contains(storage.Describe());
        await Assert.That(refused.Message).Contains("without --writable");
        // Nothing was admitted, recorded or created.
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
        await Assert.That(await runtime.ListAsync(Owner)).IsEmpty();
        var containers = await Cli.DockerAsync("ps", "-aq", "--filter", $"label=io.peercompute.instance={harness.Options.Instance}");
        await Assert.That(containers.Stdout.Trim()).IsEmpty();

        // A read-only root runs as before.
        var readOnly = await runtime.DeployAsync(RuntimeHarness.Busybox("readonly"), Owner);
        await Assert.That(readOnly.State).IsEqualTo(DeploymentState.Running);

        // The operator's explicit allowance: the writable root runs, uncapped.
        await using var allowing = await RuntimeHarness.StartAsync(o => o with { AllowUnboundedWritable = true });
        var allowed = await allowing.Runtime.DeployAsync(writable, Owner);
        await Assert.That(allowed.State).IsEqualTo(DeploymentState.Running);
        await Http.GetWhenReadyAsync(allowed.HostPort!.Value);
        var inspect = await TestEngine.InspectAsync(allowed.ContainerId!);
        await Assert.That(inspect.GetProperty("HostConfig").GetProperty("ReadonlyRootfs").GetBoolean()).IsFalse();
    }
}

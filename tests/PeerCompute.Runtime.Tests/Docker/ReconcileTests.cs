using Docker.DotNet;
using Docker.DotNet.Models;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Docker;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>The runtime's records against what the engine really runs, across restarts and interruptions.</summary>
public sealed class ReconcileTests
{
    private const string Owner = "12D3KooWOwnerReconcile";

    [Test]
    public async Task A_restarted_runtime_adopts_running_containers_without_restarting_them()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = harness.Runtime;
        var a = await first.DeployAsync(RuntimeHarness.Busybox("alpha"), Owner);
        var b = await first.DeployAsync(RuntimeHarness.Busybox("beta") with { CpuMillicores = 500 }, Owner);
        string startedBefore = (await TestEngine.InspectAsync(a.ContainerId!)).GetProperty("State").GetProperty("StartedAt").GetString()!;
        await first.DisposeAsync();

        var second = await harness.OpenRuntimeAsync(start: false);
        var report = await second.StartAsync();
        await Assert.That(string.Join(",", report.Adopted.Order())).IsEqualTo(string.Join(",", new[] { a.Id, b.Id }.Order()));
        await Assert.That(report.Vanished).IsEmpty();
        await Assert.That(report.Orphans).IsEmpty();

        var status = await second.GetStatusAsync(a.Id, Owner, includeUsage: false);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.HostPort).IsEqualTo(a.HostPort);
        await Http.GetWhenReadyAsync(status.HostPort!.Value);
        string startedAfter = (await TestEngine.InspectAsync(a.ContainerId!)).GetProperty("State").GetProperty("StartedAt").GetString()!;
        await Assert.That(startedAfter).IsEqualTo(startedBefore);

        var capacity = second.GetCapacity();
        await Assert.That(capacity.Deploys).IsEqualTo(2);
        await Assert.That(capacity.UsedCpuMillicores).IsEqualTo(750);
        await Assert.That(capacity.Running).IsEqualTo(2);
    }

    [Test]
    public async Task Two_runtimes_cannot_share_one_state_folder()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { StateLockTimeout = TimeSpan.FromMilliseconds(200) });
        var second = await harness.OpenRuntimeAsync(start: false);
        var error = await Assert.ThrowsAsync<RuntimeException>(() => second.StartAsync());
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.StateLocked);
    }

    [Test]
    public async Task A_deploy_interrupted_after_its_record_was_written_is_marked_and_frees_its_capacity()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        await harness.Runtime.DisposeAsync();
        // The crash: the record is on disk, the container never came.
        var record = NewRecord(RuntimeHarness.Busybox("interrupted"));
        await new DeploymentStore(harness.StateFolder).SaveAsync(record, CancellationToken.None);

        var runtime = await harness.OpenRuntimeAsync(start: false);
        var report = await runtime.StartAsync();
        await Assert.That(report.Vanished).Contains(record.Id);
        var status = await runtime.GetStatusAsync(record.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Vanished);
        await Assert.That(status.Reason).Contains("interrupted");
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
    }

    [Test]
    public async Task A_deploy_interrupted_between_create_and_start_is_adopted_and_started()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        await harness.Runtime.DisposeAsync();
        var spec = RuntimeHarness.Busybox("halfway");
        var record = NewRecord(spec);
        await new DeploymentStore(harness.StateFolder).SaveAsync(record, CancellationToken.None);
        using (var docker = new DockerClientBuilder().Build())
            await docker.Containers.CreateContainerAsync(ContainerSpecBuilder.Build(record, ImageReference.Parse(spec.Image), harness.Options), CancellationToken.None);

        var runtime = await harness.OpenRuntimeAsync(start: false);
        var report = await runtime.StartAsync();
        await Assert.That(report.Adopted).Contains(record.Id);
        var status = await runtime.GetStatusAsync(record.Id, Owner, includeUsage: false);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Http.GetWhenReadyAsync(status.HostPort!.Value);
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(1);
    }

    [Test]
    public async Task A_container_removed_behind_the_runtimes_back_is_marked_vanished()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("doomed"), Owner);
        (await Cli.DockerAsync("rm", "-f", deployed.ContainerId!)).EnsureSuccess("docker rm");

        var report = await runtime.ReconcileAsync();
        await Assert.That(report.Vanished).Contains(deployed.Id);
        var status = await runtime.GetStatusAsync(deployed.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Vanished);
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
        // The record stays so the owner learns what happened.
        await Assert.That((await runtime.ListAsync(Owner)).Single().Id).IsEqualTo(deployed.Id);
    }

    [Test]
    public async Task Orphans_are_left_running_on_start_and_removed_only_after_the_grace_period()
    {
        var time = new ManualTime();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { OrphanGracePeriod = TimeSpan.FromMinutes(10) }, time);
        await harness.Runtime.DisposeAsync();
        // A labelled container whose record is gone.
        var record = NewRecord(RuntimeHarness.Busybox("orphan"));
        string orphanId;
        using (var docker = new DockerClientBuilder().Build())
        {
            orphanId = (await docker.Containers.CreateContainerAsync(ContainerSpecBuilder.Build(record, ImageReference.Parse(TestEngine.BusyboxImage), harness.Options), CancellationToken.None)).ID;
            await docker.Containers.StartContainerAsync(orphanId, new ContainerStartParameters(), CancellationToken.None);
        }

        var runtime = await harness.OpenRuntimeAsync(time, start: false);
        var onStart = await runtime.StartAsync();
        await Assert.That(onStart.Orphans).Contains(orphanId);
        await Assert.That(onStart.OrphansRemoved).IsEmpty();

        time.Advance(TimeSpan.FromMinutes(5));
        var early = await runtime.ReconcileAsync();
        await Assert.That(early.OrphansRemoved).IsEmpty();
        await Assert.That(await IsRunningAsync(orphanId)).IsTrue();

        time.Advance(TimeSpan.FromMinutes(6));
        var late = await runtime.ReconcileAsync();
        await Assert.That(late.OrphansRemoved).Contains(orphanId);
        await Assert.That((await Cli.DockerAsync("inspect", orphanId)).ExitCode).IsNotEqualTo(0);
    }

    [Test]
    public async Task Records_survive_on_disk_and_a_damaged_one_is_set_aside()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("kept"), Owner);
        await harness.Runtime.DisposeAsync();
        string folder = Path.Combine(harness.StateFolder, "deployments");
        await File.WriteAllTextAsync(Path.Combine(folder, "0123456789abcdef.json"), "{ not json");

        var runtime = await harness.OpenRuntimeAsync(start: false);
        var report = await runtime.StartAsync();
        await Assert.That(report.Problems.Single()).Contains("0123456789abcdef.json");
        await Assert.That(File.Exists(Path.Combine(folder, "0123456789abcdef.json.corrupt"))).IsTrue();
        await Assert.That(report.Adopted).Contains(deployed.Id);
        await Assert.That(File.GetUnixFileMode(Path.Combine(folder, deployed.Id + ".json"))).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static DeploymentRecord NewRecord(DeploymentSpec spec) => new()
    {
        Id = ContainerNaming.NewDeploymentId(),
        Owner = Owner,
        Spec = spec,
        SpecHash = SpecHash.Compute(spec),
        CreatedAt = DateTimeOffset.UtcNow,
        UpdatedAt = DateTimeOffset.UtcNow,
        Phase = RecordPhase.Admitted,
    };

    private static async Task<bool> IsRunningAsync(string containerId)
        => (await TestEngine.InspectAsync(containerId)).GetProperty("State").GetProperty("Running").GetBoolean();
}

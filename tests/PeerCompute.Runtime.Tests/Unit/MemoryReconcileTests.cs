using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Fakes;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>Adoption, vanished records and orphan collection over the in-memory engine.</summary>
public sealed class MemoryReconcileTests
{
    private const string Owner = "12D3KooWOwnerMemoryReconcile";

    [Test]
    public async Task A_restarted_runtime_adopts_what_runs_without_starting_it_again()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var a = await harness.Runtime.DeployAsync(MemoryRuntime.App("alpha"), Owner);
        var b = await harness.Runtime.DeployAsync(MemoryRuntime.App("beta"), Owner);
        int callsBefore = harness.Engine.Calls.Count;

        var second = await harness.OpenAsync(start: false);
        var report = await second.StartAsync();
        await Assert.That(string.Join(",", report.Adopted.Order())).IsEqualTo(string.Join(",", new[] { a.Id, b.Id }.Order()));
        await Assert.That(report.Vanished).IsEmpty();
        await Assert.That(report.Orphans).IsEmpty();
        await Assert.That(harness.Engine.Calls.Count).IsEqualTo(callsBefore);
        await Assert.That((await second.GetStatusAsync(a.Id, Owner)).HostPort).IsEqualTo(a.HostPort);
        await Assert.That(second.GetCapacity().Deploys).IsEqualTo(2);
    }

    [Test]
    public async Task A_deploy_interrupted_between_create_and_start_is_started_on_adoption()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var record = NewRecord(MemoryRuntime.App("halfway"));
        await new DeploymentStore(harness.Options.StateFolder!).SaveAsync(record, CancellationToken.None);
        string containerId = await harness.Engine.CreateContainerAsync(ContainerDefinition.For(record, ImageReference.Parse("app:1"), harness.Options), "test", CancellationToken.None);

        var runtime = await harness.OpenAsync(start: false);
        var report = await runtime.StartAsync();
        await Assert.That(report.Adopted).Contains(record.Id);
        await Assert.That(harness.Engine.Calls[^1]).IsEqualTo("start " + containerId);
        var status = await runtime.GetStatusAsync(record.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(1);
    }

    [Test]
    public async Task A_deploy_interrupted_before_its_container_existed_is_marked_vanished_on_start()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var record = NewRecord(MemoryRuntime.App("never"));
        await new DeploymentStore(harness.Options.StateFolder!).SaveAsync(record, CancellationToken.None);

        var runtime = await harness.OpenAsync(start: false);
        var report = await runtime.StartAsync();
        await Assert.That(report.Vanished).Contains(record.Id);
        var status = await runtime.GetStatusAsync(record.Id, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Vanished);
        await Assert.That(status.Reason).Contains("interrupted");
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
    }

    [Test]
    public async Task A_container_removed_behind_the_runtimes_back_is_marked_vanished_and_its_record_kept()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App("doomed"), Owner);
        harness.Engine.RemoveBehindTheRuntimesBack(deployed.ContainerId!);

        var report = await harness.Runtime.ReconcileAsync();
        await Assert.That(report.Vanished).Contains(deployed.Id);
        await Assert.That((await harness.Runtime.GetStatusAsync(deployed.Id, Owner)).Reason).Contains("disappeared");
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);
        await Assert.That((await harness.Runtime.ListAsync(Owner)).Single().Id).IsEqualTo(deployed.Id);
    }

    [Test]
    public async Task Orphans_are_left_alone_on_start_and_removed_only_after_the_grace_period()
    {
        var time = new ManualTime();
        await using var harness = await MemoryRuntime.StartAsync(o => o with { OrphanGracePeriod = TimeSpan.FromMinutes(10) }, time);
        // A labelled container of this instance whose record is gone.
        var record = NewRecord(MemoryRuntime.App("orphan"));
        string orphanId = await harness.Engine.CreateContainerAsync(ContainerDefinition.For(record, ImageReference.Parse("app:1"), harness.Options), "test", CancellationToken.None);
        await harness.Engine.StartContainerAsync(orphanId, "test", CancellationToken.None);

        var runtime = await harness.OpenAsync(start: false);
        var onStart = await runtime.StartAsync();
        await Assert.That(onStart.Orphans).Contains(orphanId);
        await Assert.That(onStart.OrphansRemoved).IsEmpty();

        time.Advance(TimeSpan.FromMinutes(5));
        await Assert.That((await runtime.ReconcileAsync()).OrphansRemoved).IsEmpty();
        await Assert.That(harness.Engine.ContainerIds).Contains(orphanId);

        time.Advance(TimeSpan.FromMinutes(6));
        await Assert.That((await runtime.ReconcileAsync()).OrphansRemoved).Contains(orphanId);
        await Assert.That(harness.Engine.ContainerIds).DoesNotContain(orphanId);
    }

    [Test]
    public async Task Another_instances_containers_are_neither_adopted_nor_orphans()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var other = NewRecord(MemoryRuntime.App("neighbour"));
        await harness.Engine.CreateContainerAsync(ContainerDefinition.For(other, ImageReference.Parse("app:1"), harness.Options with { Instance = "someone-else" }), "test", CancellationToken.None);
        var report = await harness.Runtime.ReconcileAsync();
        await Assert.That(report.Orphans).IsEmpty();
        await Assert.That(report.Adopted).IsEmpty();
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
}

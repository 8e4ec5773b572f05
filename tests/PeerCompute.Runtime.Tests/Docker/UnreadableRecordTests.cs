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

/// <summary>
/// A record file that no longer parses is set aside; the running container it described is not an orphan: it is
/// adopted again from its labels (or, when they do not suffice, kept and reported), never collected.
/// </summary>
public sealed class UnreadableRecordTests
{
    private const string Owner = "12D3KooWOwnerUnreadable";
    private static readonly TimeSpan Grace = TimeSpan.FromMinutes(10);

    [Test]
    public async Task A_running_container_whose_record_is_unreadable_is_adopted_again_and_its_owner_can_stop_it()
    {
        var time = new ManualTime();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { OrphanGracePeriod = Grace }, time);
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("damaged") with { CpuMillicores = 300 }, Owner);
        await harness.Runtime.DisposeAsync();
        string file = Path.Combine(harness.StateFolder, "deployments", deployed.Id + ".json");
        await File.WriteAllTextAsync(file, "{ \"schema\": 1, \"id\": \"" + deployed.Id + "\", \"own");

        var runtime = await harness.OpenRuntimeAsync(time, start: false);
        var onStart = await runtime.StartAsync();
        await Assert.That(onStart.Problems.Any(p => p.Contains(deployed.Id + ".json", StringComparison.Ordinal))).IsTrue();
        await Assert.That(onStart.Recovered).Contains(deployed.Id);
        await Assert.That(onStart.Orphans).DoesNotContain(deployed.ContainerId!);
        await Assert.That(File.Exists(file + DeploymentStore.SetAsideSuffix)).IsTrue();

        // Well past the grace period an orphan would have been removed by now.
        time.Advance(Grace * 3);
        var later = await runtime.ReconcileAsync();
        await Assert.That(later.OrphansRemoved).IsEmpty();
        await Assert.That(await IsRunningAsync(deployed.ContainerId!)).IsTrue();

        var status = await runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.Name).IsEqualTo("damaged");
        await Assert.That(status.Reason!).Contains("unreadable");
        await Assert.That(status.HostPort).IsEqualTo(deployed.HostPort);
        await Assert.That(runtime.GetCapacity().UsedCpuMillicores).IsEqualTo(300);
        await Http.GetWhenReadyAsync(status.HostPort!.Value);

        // Someone else still cannot see it; its owner stops it.
        await Assert.That((await runtime.ListAsync("12D3KooWSomeoneElse")).Count).IsEqualTo(0);
        var stopped = await runtime.StopAsync(deployed.Id, Owner);
        await Assert.That(stopped.State).IsEqualTo(DeploymentState.Stopped);
        await Assert.That(await IsRunningAsync(deployed.ContainerId!)).IsFalse();

        // The rebuilt record is a readable one: the next start reads it back like any other.
        await runtime.DisposeAsync();
        var third = await harness.OpenRuntimeAsync(time, start: false);
        var report = await third.StartAsync();
        await Assert.That(report.Problems).IsEmpty();
        await Assert.That((await third.GetStatusAsync(deployed.Id, Owner, includeUsage: false)).State).IsEqualTo(DeploymentState.Stopped);
    }

    [Test]
    public async Task A_container_whose_record_is_unreadable_and_whose_labels_do_not_suffice_is_kept_and_reported()
    {
        var time = new ManualTime();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { OrphanGracePeriod = Grace }, time);
        await harness.Runtime.DisposeAsync();
        // A container from before the labels carried the image and sizes, and its damaged record.
        var spec = RuntimeHarness.Busybox("older");
        var record = new DeploymentRecord
        {
            Id = ContainerNaming.NewDeploymentId(),
            Owner = Owner,
            Spec = spec,
            SpecHash = SpecHash.Compute(spec),
            CreatedAt = time.GetUtcNow(),
            UpdatedAt = time.GetUtcNow(),
            Phase = RecordPhase.Active,
        };
        var definition = ContainerDefinition.For(record, ImageReference.Parse(spec.Image), harness.Options);
        definition = definition with { Labels = definition.Labels.Where(l => l.Key != ContainerNaming.Image).ToDictionary() };
        string containerId;
        using (var docker = new DockerClientBuilder().Build())
        {
            containerId = (await docker.Containers.CreateContainerAsync(ContainerSpecBuilder.Build(definition), CancellationToken.None)).ID;
            await docker.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), CancellationToken.None);
        }
        Directory.CreateDirectory(Path.Combine(harness.StateFolder, "deployments"));
        await File.WriteAllBytesAsync(Path.Combine(harness.StateFolder, "deployments", record.Id + ".json"), [0, 0, 0, 0]);

        var runtime = await harness.OpenRuntimeAsync(time, start: false);
        await runtime.StartAsync();
        time.Advance(Grace * 3);
        var later = await runtime.ReconcileAsync();
        await Assert.That(later.OrphansRemoved).IsEmpty();
        await Assert.That(later.Unreadable).Contains(containerId);
        string problem = later.Problems.Single(p => p.Contains(containerId, StringComparison.Ordinal));
        await Assert.That(problem).Contains(record.Id + ".json.corrupt");
        await Assert.That(problem).Contains(Owner);
        await Assert.That(problem).Contains("never removed automatically");
        await Assert.That(await IsRunningAsync(containerId)).IsTrue();
    }

    private static async Task<bool> IsRunningAsync(string containerId)
        => (await TestEngine.InspectAsync(containerId)).GetProperty("State").GetProperty("Running").GetBoolean();
}

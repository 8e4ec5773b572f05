using Docker.DotNet;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Docker;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Two providers on one Docker engine (another state folder and identity, or the quick start): a runtime adopts and
/// collects only the containers labelled with its own instance, on the real engine's label filter.
/// </summary>
public sealed class InstanceIsolationTests
{
    [Test]
    public async Task Another_instances_labelled_container_is_neither_adopted_nor_collected_past_the_grace_period()
    {
        var time = new ManualTime();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { OrphanGracePeriod = TimeSpan.FromMinutes(1) }, time);
        // What the other provider's runtime made: its labels, a deployment id, no record in this runtime's state.
        var other = harness.Options with { Instance = TestEngine.InstancePrefix + "other-" + Guid.NewGuid().ToString("N")[..10] };
        var spec = RuntimeHarness.Busybox("neighbour");
        var record = new DeploymentRecord
        {
            Id = ContainerNaming.NewDeploymentId(),
            Owner = "12D3KooWOwnerOfTheOtherProvider",
            Spec = spec,
            SpecHash = SpecHash.Compute(spec),
            CreatedAt = DateTimeOffset.UtcNow,
            UpdatedAt = DateTimeOffset.UtcNow,
            Phase = RecordPhase.Admitted,
        };
        string neighbour;
        using (var docker = new DockerClientBuilder().Build())
            neighbour = (await docker.Containers.CreateContainerAsync(ContainerSpecBuilder.Build(record, ImageReference.Parse(TestEngine.BusyboxImage), other), CancellationToken.None)).ID;
        try
        {
            // Checked before the grace period passes: a runtime that saw other instances' containers would, past
            // it, remove every one on the shared engine, not only this test's.
            var first = await harness.Runtime.ReconcileAsync();
            await Assert.That(first.Orphans).DoesNotContain(neighbour);
            await Assert.That(first.Adopted).IsEmpty();

            time.Advance(TimeSpan.FromMinutes(2));
            var afterGrace = await harness.Runtime.ReconcileAsync();
            await Assert.That(afterGrace.OrphansRemoved).DoesNotContain(neighbour);
            await Assert.That((await Cli.DockerAsync("inspect", neighbour)).ExitCode).IsEqualTo(0);
        }
        finally
        {
            await TestEngine.RemoveContainersOfInstanceAsync(other.Instance);
        }
    }
}

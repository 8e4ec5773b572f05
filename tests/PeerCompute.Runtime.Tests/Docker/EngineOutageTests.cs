using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// dockerd going away and coming back under a live runtime. The test runs its own dockerd, so
/// stopping it touches no container of any other test.
/// </summary>
public sealed class EngineOutageTests
{
    private const string Owner = "12D3KooWOwnerOutage";

    [Test]
    public async Task While_the_engine_is_down_errors_are_clear_and_after_it_returns_everything_recovers()
    {
        await using var engine = await PrivateEngine.StartAsync();
        await using var harness = await RuntimeHarness.StartAsync(engine: engine);
        await using var idle = await RuntimeHarness.StartAsync(engine: engine);
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("survivor"), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        await idle.Runtime.DisposeAsync();

        await engine.StopDockerdAsync();
        try
        {
            var status = await Assert.ThrowsAsync<RuntimeException>(() => runtime.GetStatusAsync(deployed.Id, Owner));
            await Assert.That(status!.Code).IsEqualTo(RuntimeErrorCode.DockerUnavailable);
            await Assert.That(status.Message).Contains(engine.Socket);
            await Assert.That(status.Message).Contains("not reachable");

            var deploy = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("during-outage"), Owner));
            await Assert.That(deploy!.Code).IsEqualTo(RuntimeErrorCode.DockerUnavailable);
            var logs = await Assert.ThrowsAsync<RuntimeException>(() => LifecycleTests.ReadAllAsync(runtime.StreamLogsAsync(deployed.Id, Owner)));
            await Assert.That(logs!.Code).IsEqualTo(RuntimeErrorCode.DockerUnavailable);

            // What needs no engine still answers, and the failed deploy left no trace.
            var capacity = runtime.GetCapacity();
            await Assert.That(capacity.Deploys).IsEqualTo(1);
            await Assert.That(capacity.UsedCpuMillicores).IsEqualTo(250);
            await Assert.That(Directory.GetFiles(Path.Combine(harness.StateFolder, "deployments")).Length).IsEqualTo(1);

            // A runtime starting while the engine is down says so, and can start again later.
            var late = await idle.OpenRuntimeAsync(start: false);
            var start = await Assert.ThrowsAsync<RuntimeException>(() => late.StartAsync());
            await Assert.That(start!.Code).IsEqualTo(RuntimeErrorCode.DockerUnavailable);
        }
        finally
        {
            await engine.StartDockerdAsync();
        }

        await idle.Runtime.StartAsync();
        // The engine restarts the deployment by its restart policy; the same runtime object sees it again.
        var back = await Eventually.WaitAsync(async () =>
        {
            var s = await runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return s.State == DeploymentState.Running ? s : null;
        }, "the deployment to run again after the engine restart");
        await Assert.That(back.ContainerId).IsEqualTo(deployed.ContainerId);
        await Assert.That(await Http.GetWhenReadyAsync(back.HostPort!.Value)).Contains("peercompute test page");

        // A fresh runtime object (as after a provider restart) adopts it; no record was lost.
        await runtime.DisposeAsync();
        var reopened = await harness.OpenRuntimeAsync(start: false);
        var report = await reopened.StartAsync();
        await Assert.That(report.Adopted).Contains(deployed.Id);
        await Assert.That(report.Vanished).IsEmpty();
        await Assert.That((await reopened.ListAsync(Owner)).Single().State).IsEqualTo(DeploymentState.Running);
        await Assert.That(reopened.GetCapacity().Deploys).IsEqualTo(1);
    }
}

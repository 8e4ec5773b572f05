using System.Net;
using PeerCompute.Core.Access;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>The route table the runtime keeps (name → loopback upstream) and the changes it pushes.</summary>
public sealed class RouteTableTests
{
    private const string Owner = "12D3KooWOwnerRoutes";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Test]
    public async Task A_watch_sees_the_routes_there_are_then_each_real_change_once()
    {
        var table = new RouteTable();
        var a = new IPEndPoint(IPAddress.Loopback, 40001);
        table.Set("a", a, RouteAccess.Public, null);
        using var cancel = new CancellationTokenSource(Patience);
        await using var watch = table.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);

        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current).IsEqualTo(new RouteChange("a", a));
        table.Set("a", new IPEndPoint(IPAddress.Loopback, 40001), RouteAccess.Public, null); // the same: no change
        table.Set("b", new IPEndPoint(IPAddress.Loopback, 40002), RouteAccess.Public, null);
        table.Set("a", null, null, null);
        table.Set("missing", null, null, null); // nothing to remove: no change
        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current.Name).IsEqualTo("b");
        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current).IsEqualTo(new RouteChange("a", null));
        await Assert.That(watch.Current.Removed).IsTrue();

        table.Complete();
        await Assert.That(await watch.MoveNextAsync()).IsFalse();
        await Assert.That(table.Snapshot().Keys.Single()).IsEqualTo("b");
    }

    [Test]
    public async Task Deploy_publishes_the_route_and_stop_withdraws_it()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var routes = harness.Runtime.Routes;
        using var cancel = new CancellationTokenSource(Patience);
        await using var watch = routes.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        var moved = watch.MoveNextAsync();

        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App("routed"), Owner);
        await Assert.That(await moved).IsTrue();
        await Assert.That(watch.Current).IsEqualTo(new RouteChange("routed", new IPEndPoint(IPAddress.Loopback, deployed.HostPort!.Value)));
        await Assert.That(routes.TryGetUpstream("routed", out var upstream)).IsTrue();
        await Assert.That(upstream!.Port).IsEqualTo(deployed.HostPort!.Value);

        await harness.Runtime.StopAsync(deployed.Id, Owner);
        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current).IsEqualTo(new RouteChange("routed", null));
        await Assert.That(routes.Count).IsEqualTo(0);
    }

    [Test]
    public async Task Remove_and_a_failed_deploy_leave_no_route()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App("gone"), Owner);
        await harness.Runtime.RemoveAsync(deployed.Id, Owner);
        await Assert.That(harness.Runtime.Routes.Count).IsEqualTo(0);

        harness.Engine.FailNextStart = new RuntimeException(RuntimeErrorCode.DockerError, "refused");
        await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(MemoryRuntime.App("failed"), Owner));
        await Assert.That(harness.Runtime.Routes.Count).IsEqualTo(0);
    }

    [Test]
    public async Task Reconcile_follows_the_engine_exits_restarts_and_removals_and_a_restart_adopts_the_routes()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var runtime = harness.Runtime;
        var a = await runtime.DeployAsync(MemoryRuntime.App("alpha"), Owner);
        var b = await runtime.DeployAsync(MemoryRuntime.App("beta"), Owner);

        harness.Engine.ExitProcess(a.ContainerId!, 1);
        harness.Engine.RemoveBehindTheRuntimesBack(b.ContainerId!);
        await runtime.ReconcileAsync();
        await Assert.That(runtime.Routes.Count).IsEqualTo(0);

        harness.Engine.Restart(a.ContainerId!);
        await runtime.ReconcileAsync();
        await Assert.That(runtime.Routes.TryGetUpstream("alpha", out var alpha)).IsTrue();
        await Assert.That(alpha!.Port).IsNotEqualTo(a.HostPort!.Value);

        var restarted = await harness.OpenAsync();
        await Assert.That(restarted.Routes.Snapshot().Keys.Single()).IsEqualTo("alpha");
    }

    [Test]
    public async Task Disposing_the_runtime_ends_every_watch()
    {
        var harness = await MemoryRuntime.StartAsync();
        using var cancel = new CancellationTokenSource(Patience);
        await using var watch = harness.Runtime.Routes.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        var moved = watch.MoveNextAsync();
        await harness.DisposeAsync();
        await Assert.That(await moved).IsFalse();
    }
}

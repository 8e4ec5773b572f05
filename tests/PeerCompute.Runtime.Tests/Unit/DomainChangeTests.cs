using System.Net;
using PeerCompute.Core.Access;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>
/// Custom domains belong to the deployment: changing them changes what the gateways are told, never the container; a
/// domain a deployment gives up (stopped, removed, taken off) is remembered for the gateways to release, one that goes
/// away with the route for a moment (a restart) is not.
/// </summary>
public sealed class DomainChangeTests
{
    private const string Owner = "12D3KooWOwnerDomainChanges";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private static readonly IPEndPoint Upstream = new(IPAddress.Loopback, 40001);

    [Test]
    public async Task New_domains_on_the_same_endpoint_are_a_change_the_watchers_hear_of()
    {
        var table = new RouteTable();
        table.Set("web", Upstream, RouteAccess.Public, null);
        using var cancel = new CancellationTokenSource(Patience);
        await using var watch = table.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        await Assert.That(await watch.MoveNextAsync()).IsTrue();

        table.Set("web", Upstream, RouteAccess.Public, ["www.example.org"]);
        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current).IsEqualTo(new RouteChange("web", Upstream));
        await Assert.That(table.DomainsSnapshot()["web"]).IsEquivalentTo(["www.example.org"]);
    }

    [Test]
    public async Task A_domain_taken_off_a_running_route_is_released_and_claiming_it_again_takes_it_back()
    {
        var table = new RouteTable();
        table.Set("web", Upstream, RouteAccess.Public, ["www.example.org", "example.org"]);
        table.Set("web", Upstream, RouteAccess.Public, ["example.org"]);
        await Assert.That(table.ReleasedSnapshot()).IsEquivalentTo([("web", "www.example.org")]);

        table.Set("web", Upstream, RouteAccess.Public, ["example.org", "www.example.org"]);
        await Assert.That(table.ReleasedSnapshot()).IsEmpty();
    }

    [Test]
    public async Task A_route_that_goes_for_a_moment_releases_nothing_but_a_stop_releases_its_domains()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App() with { Domains = ["www.example.org"] }, Owner);
        var routes = harness.Runtime.Routes;
        routes.Set("web", null, null, null); // what a restart or a recreate does
        await Assert.That(routes.ReleasedSnapshot()).IsEmpty();

        await harness.Runtime.StopAsync(deployed.Id, Owner);

        await Assert.That(routes.ReleasedSnapshot()).IsEquivalentTo([("web", "www.example.org")]);
    }

    [Test]
    public async Task Adding_a_domain_keeps_the_container_and_revision_and_tells_the_gateways()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        using var cancel = new CancellationTokenSource(Patience);
        await using var watch = harness.Runtime.Routes.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        await Assert.That(await watch.MoveNextAsync()).IsTrue();

        var changed = await harness.Runtime.SetDomainsAsync(deployed.Id, Owner, ["www.example.org"]);

        await Assert.That(await watch.MoveNextAsync()).IsTrue();
        await Assert.That(watch.Current.Name).IsEqualTo("web");
        await Assert.That(harness.Runtime.Routes.DomainsSnapshot()["web"]).IsEquivalentTo(["www.example.org"]);
        await Assert.That(changed.ContainerId).IsEqualTo(deployed.ContainerId);
        await Assert.That(changed.Domains).IsEquivalentTo(["www.example.org"]);
        await Assert.That(await harness.Runtime.GetHistoryAsync(deployed.Id, Owner)).Count().IsEqualTo(1);
        await Assert.That(harness.Engine.Calls.Count(c => c.StartsWith("create ", StringComparison.Ordinal))).IsEqualTo(1);
    }

    [Test]
    public async Task The_domains_survive_a_provider_restart_and_a_rollback()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.Images.UnionWith(["app:2"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        await harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = "app:2" }, new UpdateOptions());
        await harness.Runtime.SetDomainsAsync(first.Id, Owner, ["www.example.org"]);

        var restarted = await harness.OpenAsync();
        var afterRestart = await restarted.GetStatusAsync(first.Id, Owner, includeUsage: false);
        var rolledBack = await restarted.RollbackAsync(first.Id, Owner, new UpdateOptions());

        await Assert.That(afterRestart.Domains).IsEquivalentTo(["www.example.org"]);
        await Assert.That(rolledBack.Status.Domains).IsEquivalentTo(["www.example.org"]);
        await Assert.That(restarted.Routes.DomainsSnapshot()["web"]).IsEquivalentTo(["www.example.org"]);
    }

    [Test]
    public async Task A_malformed_domain_is_refused_and_the_deployment_keeps_what_it_had()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App() with { Domains = ["www.example.org"] }, Owner);

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.SetDomainsAsync(deployed.Id, Owner, ["www.example.org", "Not A Domain"]));

        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.InvalidSpec);
        await Assert.That((await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false)).Domains).IsEquivalentTo(["www.example.org"]);
    }

    [Test]
    public async Task Another_owner_cannot_change_a_deployments_domains()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.SetDomainsAsync(deployed.Id, "12D3KooWSomeoneElse", ["www.example.org"]));

        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
        await Assert.That(harness.Runtime.Routes.DomainsSnapshot()).IsEmpty();
    }
}

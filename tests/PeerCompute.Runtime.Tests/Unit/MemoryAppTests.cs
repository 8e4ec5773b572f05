using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Network;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>Services of an app over the in-memory engine: their own network, made with the first and gone with the last.</summary>
public sealed class MemoryAppTests
{
    private const string Owner = "12D3KooWOwnerMemoryApp";
    private const string OtherOwner = "12D3KooWOtherMemoryApp";

    private static DeploymentSpec Service(string app, string service, bool isPrivate = false)
        => MemoryRuntime.App($"{app}-{service}") with { App = app, Service = service, Private = isPrivate };

    [Test]
    public async Task A_private_service_is_updated_in_place_on_its_apps_network_though_it_publishes_no_port()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.Images.UnionWith(["app:2"]);
        string network = AppNetwork.NameFor(harness.Options.Instance, Owner, "shop");
        var store = await harness.Runtime.DeployAsync(Service("shop", "store", isPrivate: true), Owner);

        // Before: with no loopback port there was no route to switch, and the update was refused as "not running".
        var updated = await harness.Runtime.UpdateAsync(store.Id, Owner, Service("shop", "store", isPrivate: true) with { Image = "app:2" }, new UpdateOptions());

        await Assert.That(updated.Status.Id).IsEqualTo(store.Id);
        await Assert.That(updated.Status.Image).IsEqualTo("app:2");
        await Assert.That(updated.Status.HostPort).IsNull();
        await Assert.That(harness.Engine.ContainerIds).IsEquivalentTo([updated.Status.ContainerId!]);
        var definition = harness.Engine.DefinitionOf(updated.Status.ContainerId!);
        await Assert.That(definition.Network).IsEqualTo(network);
        await Assert.That(definition.NetworkAliases.Single()).IsEqualTo("store");
    }

    [Test]
    public async Task The_apps_network_comes_with_its_first_service_and_goes_with_its_last()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        string network = AppNetwork.NameFor(harness.Options.Instance, Owner, "shop");

        var store = await harness.Runtime.DeployAsync(Service("shop", "store", isPrivate: true), Owner);
        var web = await harness.Runtime.DeployAsync(Service("shop", "web"), Owner);

        await Assert.That(harness.Engine.Calls.Count(c => c == "create-network " + network)).IsEqualTo(1);
        var facts = await harness.Engine.FindNetworkAsync(network, CancellationToken.None);
        await Assert.That(facts!.InterContainerTrafficOff).IsFalse();
        var definition = harness.Engine.DefinitionOf(web.ContainerId!);
        await Assert.That(definition.Network).IsEqualTo(network);
        await Assert.That(definition.NetworkAliases.Single()).IsEqualTo("web");
        await Assert.That(definition.Labels[ContainerNaming.App]).IsEqualTo("shop");
        await Assert.That(web.App).IsEqualTo("shop");
        await Assert.That(web.Service).IsEqualTo("web");

        await harness.Runtime.RemoveAsync(web.Id, Owner);
        await Assert.That(harness.Engine.Calls).DoesNotContain("remove-network " + network);
        await harness.Runtime.RemoveAsync(store.Id, Owner);
        await Assert.That(harness.Engine.Calls).Contains("remove-network " + network);
        await Assert.That(await harness.Engine.FindNetworkAsync(network, CancellationToken.None)).IsNull();
        // The shared bridge stays.
        await Assert.That(await harness.Engine.FindNetworkAsync("pcmem0", CancellationToken.None)).IsNotNull();
    }

    [Test]
    public async Task A_private_service_publishes_no_port_and_gets_no_route()
    {
        await using var harness = await MemoryRuntime.StartAsync();

        var store = await harness.Runtime.DeployAsync(Service("shop", "store", isPrivate: true), Owner);
        var web = await harness.Runtime.DeployAsync(Service("shop", "web"), Owner);

        await Assert.That(harness.Engine.DefinitionOf(store.ContainerId!).PublishPort).IsFalse();
        await Assert.That(store.HostPort).IsNull();
        await Assert.That(store.Private).IsTrue();
        await Assert.That(harness.Runtime.Routes.TryGetUpstream("shop-store", out _)).IsFalse();
        await Assert.That(harness.Runtime.Routes.TryGetUpstream("shop-web", out _)).IsTrue();
    }

    [Test]
    public async Task Two_owners_apps_of_one_name_get_networks_of_their_own()
    {
        await using var harness = await MemoryRuntime.StartAsync();

        var mine = await harness.Runtime.DeployAsync(Service("shop", "web"), Owner);
        var theirs = await harness.Runtime.DeployAsync(MemoryRuntime.App("their-web") with { App = "shop", Service = "web" }, OtherOwner);

        string myNetwork = harness.Engine.DefinitionOf(mine.ContainerId!).Network;
        string theirNetwork = harness.Engine.DefinitionOf(theirs.ContainerId!).Network;
        await Assert.That(myNetwork).IsNotEqualTo(theirNetwork);
        await Assert.That(myNetwork.Length).IsEqualTo(15);
        await Assert.That(myNetwork).StartsWith(AppNetwork.Prefix);
    }

    [Test]
    public async Task A_failed_first_service_leaves_no_network_behind()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        string network = AppNetwork.NameFor(harness.Options.Instance, Owner, "shop");
        harness.Engine.FailNextStart = new RuntimeException(RuntimeErrorCode.DockerError, "starting: refused");

        await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(Service("shop", "web"), Owner));

        await Assert.That(harness.Engine.Calls).Contains("create-network " + network);
        await Assert.That(await harness.Engine.FindNetworkAsync(network, CancellationToken.None)).IsNull();
    }

    [Test]
    [Arguments(null, "web", false, "app and service: give both")]
    [Arguments("shop", null, false, "app and service: give both")]
    [Arguments(null, null, true, "only a service of an app can be private")]
    [Arguments("Shop", "web", false, "app: 'Shop' must be")]
    [Arguments("shop", "web_1", false, "service: 'web_1' must be")]
    public async Task App_fields_that_do_not_fit_together_are_refused(string? app, string? service, bool isPrivate, string expected)
    {
        await using var harness = await MemoryRuntime.StartAsync();

        var ex = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(MemoryRuntime.App() with { App = app, Service = service, Private = isPrivate }, Owner));

        await Assert.That(ex!.Code).IsEqualTo(RuntimeErrorCode.InvalidSpec);
        await Assert.That(ex.Message).Contains(expected);
    }
}

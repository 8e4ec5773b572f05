using PeerCompute.Runtime.Deployments;
using System.Net.Sockets;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// A public request asks the runtime where a route answers (and the gateway's route list is built the same way):
/// through a proxy on the engine socket that counts every byte the runtime sends the engine, N such requests
/// must send none, while the table still follows a container the engine loses and a restart's adoption.
/// </summary>
public sealed class PublicRouteEngineCallTests
{
    private const string Owner = "12D3KooWOwnerPublicRoutes";
    private const int Requests = 25;

    [Test]
    public async Task Public_requests_resolve_from_the_route_table_and_make_no_engine_call()
    {
        await using var proxy = CountingEngineProxy.Start("/var/run/docker.sock");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { DockerEndpoint = proxy.Endpoint });
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("counted", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        long before = proxy.RequestBytes;
        await Assert.That(before).IsGreaterThan(0L); // the proxy really is the runtime's way to the engine
        for (int i = 0; i < Requests; i++)
        {
            await Assert.That(PublicRoutes.Names(runtime)).Contains("counted");
            var upstream = await PublicRoutes.ResolveAsync(runtime, "counted", CancellationToken.None);
            await Assert.That(upstream).IsNotNull();
            // The published loopback port, never the bridge address (the engine reuses a freed one at once).
            await Assert.That(upstream!).IsEqualTo(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, deployed.HostPort!.Value));
            await Http.GetWhenReadyAsync(upstream);
            await Assert.That(await PublicRoutes.ResolveAsync(runtime, "not-deployed", CancellationToken.None)).IsNull();
        }
        await Assert.That(proxy.RequestBytes).IsEqualTo(before);
    }

    [Test]
    public async Task The_table_adopts_routes_at_start_and_drops_a_container_the_engine_lost()
    {
        await using var proxy = CountingEngineProxy.Start("/var/run/docker.sock");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { DockerEndpoint = proxy.Endpoint });
        // No restart policy: the provider's restart supervisor would otherwise start the container the engine stopped
        // again (it cannot tell that stop from a crash), racing the reconcile this test looks at.
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("adopted", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)) with { Restart = RestartMode.No }, Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        // A restarted provider: routes come back from the start's reconcile, before any request.
        await harness.Runtime.DisposeAsync();
        var restarted = await harness.OpenRuntimeAsync();
        var adopted = await PublicRoutes.ResolveAsync(restarted, "adopted", CancellationToken.None);
        await Assert.That(adopted).IsEqualTo(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, deployed.HostPort!.Value));

        // The engine stops the container behind the runtime's back: the next reconcile withdraws the route.
        (await Cli.DockerAsync("stop", "-t", "0", deployed.ContainerId!)).EnsureSuccess("docker stop");
        await restarted.ReconcileAsync();
        await Assert.That(await PublicRoutes.ResolveAsync(restarted, "adopted", CancellationToken.None)).IsNull();
        await Assert.That(PublicRoutes.Names(restarted)).DoesNotContain("adopted");
    }
}

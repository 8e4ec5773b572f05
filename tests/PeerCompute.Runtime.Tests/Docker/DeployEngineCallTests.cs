using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// A deploy's latency is mostly its engine calls, one after another: counted through a proxy on the engine's socket,
/// a deploy of an image the engine holds asks about the image once (its size and ports come with the look-up), then
/// creates, starts and inspects the container, and nothing more.
/// </summary>
public sealed class DeployEngineCallTests
{
    private const string Owner = "12D3KooWOwnerEngineCalls";

    [Test]
    public async Task A_deploy_of_a_present_image_makes_four_engine_calls()
    {
        await using var proxy = CountingEngineProxy.Start("/var/run/docker.sock");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { DockerEndpoint = proxy.Endpoint });
        int before = proxy.Requests.Count;
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("counted"), Owner);
        // The restart supervisor's one long-lived event stream (opened once when the runtime starts, in the background)
        // is no call of the deploy's.
        var calls = proxy.Requests.Skip(before).Where(c => !c.StartsWith("GET /events?", StringComparison.Ordinal)).ToList();
        string seen = string.Join("; ", calls);

        await Assert.That(calls.Count(c => c.StartsWith("GET ", StringComparison.Ordinal) && c.Contains("/images/", StringComparison.Ordinal))).IsEqualTo(1).Because(seen);
        await Assert.That(calls.Count(c => c.Contains("/containers/create", StringComparison.Ordinal))).IsEqualTo(1).Because(seen);
        await Assert.That(calls.Count(c => c.EndsWith($"/containers/{deployed.ContainerId}/start", StringComparison.Ordinal))).IsEqualTo(1).Because(seen);
        await Assert.That(calls.Count(c => c.Contains($"/containers/{deployed.ContainerId}/json", StringComparison.Ordinal))).IsEqualTo(1).Because(seen);
        await Assert.That(calls.Count).IsEqualTo(4).Because(seen);
    }
}

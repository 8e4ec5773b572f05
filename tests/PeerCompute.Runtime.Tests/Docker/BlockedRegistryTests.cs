using System.Net;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// The engine pulls from the host's network, outside the egress filter: registries that are, or resolve to, loopback,
/// private or link-local addresses are refused before the engine is asked (a listener where the registry would be sees
/// no connection), unless the provider allows them by name; and what a failed pull reached never comes back.
/// </summary>
public sealed class BlockedRegistryTests
{
    private const string Owner = "12D3KooWOwnerRegistries";

    [Test]
    [Arguments("127.0.0.1", "127.0.0.1")]
    [Arguments("localhost", "127.0.0.1")]
    [Arguments("[::1]", "::1")]
    public async Task A_registry_on_loopback_is_refused_and_the_engine_never_goes_there(string host, string listenOn)
    {
        await using var listener = CountingListener.Start(IPAddress.Parse(listenOn));
        await using var harness = await RuntimeHarness.StartAsync();
        string registry = $"{host}:{listener.Port}";
        var spec = RuntimeHarness.Busybox("blocked") with { Image = $"{registry}/peercompute-test/blocked:1" };

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(spec, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
        await Assert.That(error.Message).Contains($"--allow-registry {registry}");
        await Assert.That(listener.Connections).IsEqualTo(0);
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);
    }

    [Test]
    [Arguments("10.1.2.3")]
    [Arguments("169.254.169.254")]
    [Arguments("192.168.77.1:5000")]
    [Arguments("100.64.0.1")]
    [Arguments("[::ffff:127.0.0.1]:5000")]
    [Arguments("[fd00::1]")]
    public async Task Registries_on_private_shared_and_link_local_addresses_are_refused(string registry)
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var spec = RuntimeHarness.Busybox("blocked") with { Image = $"{registry}/x:1" };
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(spec, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
        await Assert.That(error.Message).Contains(registry);
    }

    [Test]
    [NotInParallel("registry")]
    public async Task An_allowed_registry_on_loopback_is_pulled_from()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        var spec = RuntimeHarness.Busybox("allowed") with { Image = $"{registry.Open}/{repository}:v1" };

        await using (var refusing = await RuntimeHarness.StartAsync())
        {
            var error = await Assert.ThrowsAsync<RuntimeException>(() => refusing.Runtime.DeployAsync(spec, Owner));
            await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
        }
        await using var harness = await RuntimeHarness.StartAsync(o => o with { AllowedRegistries = [registry.Open] });
        var status = await harness.Runtime.DeployAsync(spec, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task A_failed_pull_from_an_allowed_registry_says_so_plainly_and_logs_what_answered()
    {
        const string banner = "SSH-2.0-OpenSSH_9.9 peercompute-secret-banner\r\n";
        await using var listener = CountingListener.Start(IPAddress.Loopback, banner);
        string registry = $"127.0.0.1:{listener.Port}";
        var logger = new RecordingLogger();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { AllowedRegistries = [registry] }, logger: logger);

        var error = await Assert.ThrowsAsync<RuntimeException>(() =>
            harness.Runtime.DeployAsync(RuntimeHarness.Busybox("not-a-registry") with { Image = $"{registry}/x:1" }, Owner));
        await Assert.That(listener.Connections).IsGreaterThan(0); // the engine did go there
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImagePullFailed);
        await Assert.That(error.Message).Contains(registry);
        await Assert.That(error.Message).DoesNotContain("secret-banner");
        await Assert.That(error.Message).DoesNotContain("SSH-2.0");
        await Assert.That(error.Message).DoesNotContain("malformed");
        // The provider's operator sees the engine's own words.
        await Assert.That(logger.Lines.Any(l => l.Contains(registry, StringComparison.Ordinal) && l.Contains("secret-banner", StringComparison.Ordinal))).IsTrue()
            .Because(string.Join("\n", logger.Lines));
    }
}

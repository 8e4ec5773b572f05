using System.Net;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// The published provider is no port scanner for a trusted user: an image reference naming a registry on loopback is
/// refused with <c>registry_blocked</c> and the engine never goes there; a registry the operator allowed is pulled
/// from, and what answered on its port does not come back in the error.
/// </summary>
[NotInParallel("system")]
public sealed class RegistryRefusalTests
{
    [Test]
    public async Task A_registry_on_loopback_is_refused_as_registry_blocked_and_never_contacted()
    {
        await using var listener = CountingListener.Start(IPAddress.Loopback);
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        var refused = await user.CtlAsync("deploy", $"127.0.0.1:{listener.Port}/peercompute-test/probe:1", "--name", "probe", "--port", "8080", "--json");
        await Assert.That(refused.ExitCode).IsEqualTo(1).Because(refused.ToString());
        var error = JsonDocument.Parse(refused.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("registry_blocked");
        await Assert.That(error.GetProperty("message").GetString()).Contains($"--allow-registry 127.0.0.1:{listener.Port}");
        await Assert.That(listener.Connections).IsEqualTo(0);
    }

    [Test]
    public async Task An_allowed_registry_is_asked_and_what_answered_there_is_not_echoed()
    {
        await using var listener = CountingListener.Start(IPAddress.Loopback, "SSH-2.0-OpenSSH_9.9 peercompute-secret-banner\r\n");
        string registry = $"127.0.0.1:{listener.Port}";
        await using var cluster = await TrustedCluster.StartAsync("--allow-registry", registry);
        var (_, user, _) = cluster;

        var failed = await user.CtlAsync("deploy", $"{registry}/peercompute-test/probe:1", "--name", "probe", "--port", "8080", "--json");
        await Assert.That(failed.ExitCode).IsEqualTo(1).Because(failed.ToString());
        await Assert.That(listener.Connections).IsGreaterThan(0);
        var error = JsonDocument.Parse(failed.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("pull_failed");
        await Assert.That(error.GetProperty("message").GetString()).Contains(registry);
        await Assert.That(failed.ToString()).DoesNotContain("secret-banner");
    }
}

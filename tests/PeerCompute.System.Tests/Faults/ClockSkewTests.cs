using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A client whose clock is off by more than the signature window (5 minutes) is refused with
/// <c>stale_request</c> and a message naming both clocks. The skew is real: the published peerctl runs
/// under libfaketime (LD_PRELOAD), so its own signing code reads the wrong time.
/// </summary>
[NotInParallel("system")]
public class ClockSkewTests
{
    private static Task<ProcessResult> SkewedCtlAsync(PeerNode node, string offset, params string[] args) =>
        TestProcess.RunAsync("faketime", ["-f", offset, PeerNode.Peerctl, .. args],
            new Dictionary<string, string?>(node.Environment) { ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1" }, TimeSpan.FromSeconds(60));

    [Test]
    public async Task Requests_signed_by_a_clock_beyond_the_window_are_refused_with_the_stale_code()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;

        foreach (string offset in new[] { "+6m", "-6m", "+1d" })
        {
            var result = await SkewedCtlAsync(user, offset, "status", "--json");
            await Assert.That(result.ExitCode).IsNotEqualTo(0).Because(result.ToString());
            var error = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error");
            await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("stale_request").Because(offset);
            await Assert.That(result.StandardError).Contains("more than 5 minutes from the provider's clock");
            await Assert.That(result.StandardError).Contains("check both clocks");
        }

        // A deploy is refused the same way and leaves nothing behind.
        var deploy = await SkewedCtlAsync(user, "+10m", "deploy", DeployWorkflowTests.TestImage, "--name", "late", "--port", "8080", "--json");
        await Assert.That(deploy.ExitCode).IsNotEqualTo(0).Because(deploy.ToString());
        await Assert.That(deploy.StandardOutput).Contains("stale_request");
        await Assert.That(await ProviderState.ContainersAsync(provider)).IsEmpty();
        await Assert.That(ProviderState.Records(provider)).IsEmpty();

        // Within the window (a clock a little off) is accepted: the check is the window, not exact time.
        var close = await SkewedCtlAsync(user, "+2m", "status", "--json");
        await Assert.That(close.ExitCode).IsEqualTo(0).Because(close.ToString());
        await Assert.That(daemon.Process.Output).Contains("stale");
    }
}

using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// One provider tunnelled to two gateways of one domain (each with its own home, certificate and pin): a deployment
/// answers at the same hostname on both, and one gateway going away leaves the other serving.
/// </summary>
[NotInParallel("system")]
public class MultiGatewayTests
{
    [Test]
    public async Task A_deployment_answers_on_both_gateways_and_on_the_other_while_one_is_down()
    {
        await using var cluster = await TrustedCluster.StartWithGatewaysAsync(2);
        var (a, b) = (cluster.Gateways[0], cluster.Gateways[1]);
        var deployed = JsonDocument.Parse(await cluster.User.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json")).RootElement;
        var url = new Uri(deployed.GetProperty("publicUrl").GetString()!);

        await Assert.That(await CurlAsync(a, url)).Contains("peercompute test page");
        await Assert.That(await CurlAsync(b, url)).Contains("peercompute test page");

        await a.KillAsync();
        await Assert.That(await CurlAsync(b, url)).Contains("peercompute test page");
        var refused = await CurlResultAsync(a, url);
        await Assert.That(refused.ExitCode).IsNotEqualTo(0).Because("the killed gateway's port answers nothing");

        // Back again: the provider's tunnel to it reconnects by itself and both serve.
        await a.RestartAsync();
        await Eventually.WaitAsync(async () => (await CurlResultAsync(a, url)).StandardOutput.Contains("peercompute test page", StringComparison.Ordinal),
            "the restarted gateway to serve again", TimeSpan.FromSeconds(90));
        await Assert.That(await CurlAsync(b, url)).Contains("peercompute test page");
        await Assert.That(cluster.Daemon.Process.Output).Contains($"gateway tunnel connected (127.0.0.1:{a.TunnelPort})");
        await Assert.That(cluster.Daemon.Process.Output).Contains($"gateway tunnel connected (127.0.0.1:{b.TunnelPort})");
    }

    [Test]
    public async Task Pins_that_do_not_match_the_gateways_are_refused_before_anything_starts()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        var result = await provider.DaemonCommandAsync("--gateway", "127.0.0.1:1", "--gateway", "127.0.0.1:2", "--gateway", "127.0.0.1:3",
            "--gateway-pin", new string('a', 64), "--gateway-pin", new string('b', 64));
        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains("--gateway-pin is given 2 times for 3 gateway(s)");

        var twice = await provider.DaemonCommandAsync("--gateway", "127.0.0.1:1", "--gateway", "127.0.0.1:1");
        await Assert.That(twice.ExitCode).IsEqualTo(2).Because(twice.ToString());
        await Assert.That(twice.StandardError).Contains("a gateway is named twice");

        // The config file takes one gateway as a string (as before) or several as a list.
        File.WriteAllText(Path.Combine(provider.Home, "peercomputed.json"), $$"""
            { "gateway": ["127.0.0.1:1", "127.0.0.1:2"], "gateway-pin": ["{{new string('a', 64)}}", "{{new string('b', 64)}}", "{{new string('c', 64)}}"] }
            """);
        var fromFile = await provider.DaemonCommandAsync();
        await Assert.That(fromFile.ExitCode).IsEqualTo(2).Because(fromFile.ToString());
        await Assert.That(fromFile.StandardError).Contains("--gateway-pin is given 3 times for 2 gateway(s)");
        File.WriteAllText(Path.Combine(provider.Home, "peercomputed.json"), """{ "gateway": "127.0.0.1:1", "gateway-pin": 7 }""");
        var wrongType = await provider.DaemonCommandAsync();
        await Assert.That(wrongType.ExitCode).IsEqualTo(2).Because(wrongType.ToString());
        await Assert.That(wrongType.StandardError).Contains("expected a string or an array of strings");
    }

    /// <summary>The URL's hostname, sent to that gateway's HTTPS port, checked against that gateway's certificate.</summary>
    private static async Task<string> CurlAsync(GatewayProcess gateway, Uri url)
    {
        var result = await CurlResultAsync(gateway, url);
        return result.ExitCode == 0 ? result.StandardOutput : throw new InvalidOperationException($"curl through the gateway on {gateway.HttpsPort} failed: {result}");
    }

    private static Task<ProcessResult> CurlResultAsync(GatewayProcess gateway, Uri url) =>
        TestProcess.RunAsync("curl", ["-sS", "-m", "20", "--cacert", gateway.CertificateFile,
            "--connect-to", $"{url.Host}:{url.Port}:127.0.0.1:{gateway.HttpsPort}", url.ToString()]);
}

using System.Net;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>
/// What a newcomer following the README on one machine sees (issue 19): where the gateway listens and what it says at
/// start, the provider's lines when the gateway's certificate is refused, the public answer and the one log line on
/// each side when a container does not answer, and an idle provider's log without noise. Scripts parse these lines.
/// </summary>
[NotInParallel("system")]
public class FirstHourTests
{
    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task A_self_signed_gateway_without_listen_keeps_every_port_on_loopback_and_says_so(bool open)
    {
        using var node = await PeerNode.CreateAsync("gateway");
        using var provider = await PeerNode.CreateAsync("provider");
        await using var gateway = await GatewayProcess.StartAsync(node,
            launch => launch with { Listen = null, Metrics = true, ExtraArgs = open ? ["--open"] : [] },
            open ? [] : [provider.PeerId]);

        var listening = ListeningSockets.Of(gateway.Process.Id);
        string output = gateway.Process.Output;

        // HTTPS, tunnel, relay and metrics: four ports, none beyond loopback.
        await Assert.That(listening.Select(e => e.Port).Distinct().Count()).IsEqualTo(4).Because(string.Join(", ", listening));
        await Assert.That(listening.All(e => e.Address.Equals(IPAddress.Loopback))).IsTrue().Because(string.Join(", ", listening));
        await Assert.That(listening.Select(e => e.Port)).Contains(gateway.HttpsPort);
        await Assert.That(listening.Select(e => e.Port)).Contains(gateway.TunnelPort);
        await Assert.That(listening.Select(e => e.Port)).Contains(gateway.RelayPort);
        await Assert.That(output).Contains($"gateway up: serving *.peercompute.localhost on 127.0.0.1:{gateway.HttpsPort} (names under .localhost resolve to this host: no DNS record needed); tunnels on 127.0.0.1:{gateway.TunnelPort};");
        await Assert.That(output).Contains($"listening on loopback only ({(open ? "--open" : "--self-signed")} without --listen)");
    }

    [Test]
    public async Task Listen_moves_every_port_the_gateway_opens_and_a_real_domain_is_told_its_dns_record()
    {
        using var node = await PeerNode.CreateAsync("gateway");
        await using var gateway = await GatewayProcess.StartAsync(node,
            launch => launch with { Domain = "peercompute.example", Listen = "127.0.0.2", Metrics = true, ExtraArgs = ["--open"] });

        var listening = ListeningSockets.Of(gateway.Process.Id);
        string output = gateway.Process.Output;

        foreach (int port in new[] { gateway.HttpsPort, gateway.TunnelPort, gateway.RelayPort })
            await Assert.That(listening.Where(e => e.Port == port).Select(e => e.Address.ToString()).ToList()).IsEquivalentTo(["127.0.0.2"]).Because($"port {port}: {string.Join(", ", listening)}");
        // The metrics port is loopback-only whatever --listen says.
        await Assert.That(listening.Where(e => e.Address.Equals(IPAddress.Loopback)).Count()).IsEqualTo(1).Because(string.Join(", ", listening));
        await Assert.That(output).Contains($"gateway up: serving *.peercompute.example on 127.0.0.2:{gateway.HttpsPort} (needs a wildcard DNS record *.peercompute.example -> this host)");
        await Assert.That(output).DoesNotContain("loopback only");
    }

    [Test]
    public async Task A_provider_refused_by_the_self_signed_certificate_logs_one_line_per_retry_with_the_pin_fix()
    {
        using var gatewayNode = await PeerNode.CreateAsync("gateway");
        using var providerNode = await PeerNode.CreateAsync("provider");
        await using var gateway = await GatewayProcess.StartAsync(gatewayNode, providerNode.PeerId);
        await using var daemon = await ProviderProcess.StartAsync(providerNode, "--gateway", gateway.TunnelAddress);

        // Three attempts (the backoff starts near 1 s), then the whole log is judged.
        for (int seen = 0; seen < 3;)
        {
            await daemon.Process.WaitForLineAsync(l => l.Contains("gateway tunnel down", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            seen = Lines(daemon.Process.Output).Count(l => l.Contains("gateway tunnel down", StringComparison.Ordinal));
        }
        var lines = Lines(daemon.Process.Output);
        var down = lines.Where(l => l.Contains("gateway tunnel down", StringComparison.Ordinal)).ToList();
        var aboutTheCertificate = lines.Where(l => l.Contains("certificate", StringComparison.Ordinal) && l.Contains("gateway", StringComparison.Ordinal)).ToList();

        await Assert.That(down.All(l => l.Contains("--gateway-pin $(gateway pin)", StringComparison.Ordinal))).IsTrue().Because(string.Join('\n', down));
        await Assert.That(aboutTheCertificate).IsEquivalentTo(down).Because(string.Join('\n', lines));
        await Assert.That(lines.Any(l => l.Contains("gateway tunnel connecting", StringComparison.Ordinal) || l.Contains("gateway tunnel disconnected", StringComparison.Ordinal))).IsFalse();

        // What the message tells the operator to give is accepted, in the form 'gateway pin' prints it.
        await daemon.DisposeAsync();
        await using var pinned = await ProviderProcess.StartAsync(providerNode, "--gateway", gateway.TunnelAddress, "--gateway-pin", gateway.Pin);
        await pinned.Process.WaitForOutputAsync(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        await Assert.That(gateway.Pin).StartsWith("sha256//");
    }

    [Test]
    public async Task A_container_that_stops_answering_is_a_502_naming_it_with_one_line_on_each_side_and_no_provider_is_a_503()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(providerArgs: ["--max-memory", "1GiB"]);
        var (_, user, daemon) = cluster;
        var gateway = cluster.Gateway;
        // httpd in the background and the container kept alive by sleep: killing httpd leaves Docker's port proxy
        // accepting connections for a container that no longer listens, as a wrong --port does.
        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json",
            "--", "sh", "-c", "httpd -p 8080 -h /www; exec sleep 3600")).RootElement;
        string url = deployed.GetProperty("publicUrl").GetString()!;
        string label = new Uri(url).Host.Split('.')[0];
        var served = await Curl(gateway, url, retry: true);
        await Assert.That(served.StandardOutput).Contains("peercompute test page");

        var container = await TestProcess.RunAsync("docker", ["ps", "-q", "--filter", $"label=io.peercompute.instance={cluster.Provider.PeerId}"]);
        var killed = await TestProcess.RunAsync("docker", ["exec", container.StandardOutput.Trim(), "killall", "httpd"]);
        await Assert.That(killed.ExitCode).IsEqualTo(0).Because(killed.ToString());

        var failed = await Curl(gateway, url);
        await daemon.Process.WaitForOutputAsync(l => l.Contains("route web:", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"{label}: 502", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        await Assert.That(failed.StandardOutput).IsEqualTo($"502: the provider is connected but the container of {label} does not answer on its port\n502");
        var gatewayLines = Lines(gateway.Process.Output);
        await Assert.That(gatewayLines.Count(l => l.Contains(label, StringComparison.Ordinal) && !l.Contains("serving", StringComparison.Ordinal))).IsEqualTo(1).Because(gateway.Process.Output);
        await Assert.That(gatewayLines.Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal))).IsFalse().Because(gateway.Process.Output);
        await Assert.That(Lines(daemon.Process.Output).Count(l => l.Contains("route web:", StringComparison.Ordinal))).IsEqualTo(1).Because(daemon.Process.Output);

        // With the provider gone the name stays known: 503, no provider connected.
        await daemon.StopAsync();
        await gateway.Process.WaitForOutputAsync(l => l.Contains("disconnected", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var offline = await Curl(gateway, url);
        await Assert.That(offline.StandardOutput).IsEqualTo($"503: no provider is connected for {label}\n503");
    }

    [Test]
    public async Task An_idle_provider_logs_its_tunnel_once_in_human_units_and_without_noise()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(providerArgs: ["--max-memory", "1GiB"]);
        var (_, user, daemon) = cluster;
        var gateway = cluster.Gateway;

        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--memory", "64MiB", "--json");
        await gateway.Process.WaitForOutputAsync(l => l.Contains("serving 1 hostname(s)", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await user.CtlOkAsync("stop", "web");
        await gateway.Process.WaitForOutputAsync(l => l.Contains("serving no hostnames now", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await Assert.That(await daemon.StopAsync()).IsEqualTo(0);

        string log = daemon.Process.Output;
        await Assert.That(Lines(log).Count(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal))).IsEqualTo(1).Because(log);
        await Assert.That(log).Contains("max-memory 1GiB");
        await Assert.That(log).Contains("64MiB memory");
        await Assert.That(log).DoesNotContain(" bytes");
        await Assert.That(log).DoesNotContain("in flight");
        await Assert.That(gateway.Process.Output).DoesNotContain("serving 0 hostname(s)");
    }

    private static List<string> Lines(string output) => [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>The body, then the status on a line of its own.</summary>
    private static Task<ProcessResult> Curl(GatewayProcess gateway, string url, bool retry = false) =>
        TestProcess.RunAsync("curl", ["-sS", "-m", "30", "--cacert", gateway.CertificateFile, "-w", "%{http_code}",
            .. retry ? new[] { "--fail", "--retry", "5", "--retry-all-errors", "--retry-delay", "1" } : [], url]);
}

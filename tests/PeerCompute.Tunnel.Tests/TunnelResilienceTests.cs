using System.Diagnostics;
using System.Net;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>Gateway restarts, frozen links and graceful drains: the provider recovers with no action.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class TunnelResilienceTests
{
    [Test]
    public async Task After_the_gateway_is_killed_and_restarted_the_url_answers_again_within_10_seconds()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint },
            configure: o => o with { InitialBackoff = TimeSpan.FromMilliseconds(500), MaxBackoff = TimeSpan.FromSeconds(30) }).Start();
        await provider.WaitReadyAsync();

        await gateway.KillAsync();
        await provider.WaitForAsync(s => s.State != TunnelState.Connected);
        await gateway.RestartAsync();
        var clock = Stopwatch.StartNew();
        await provider.WaitReadyAsync(TimeSpan.FromSeconds(10));
        var result = await Curl.GetAsync(gateway, provider.Label("web"));

        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(clock.Elapsed).IsLessThan(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task A_frozen_link_is_detected_within_15_seconds_and_replaced()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var proxy = new PausableProxy(new IPEndPoint(IPAddress.Loopback, gateway.TunnelPort));
        await using var provider = TestProvider.Create("127.0.0.1", proxy.Port, pki, new() { ["web"] = upstream.EndPoint }).Start();
        var first = await provider.WaitReadyAsync();

        proxy.FreezeExisting();
        var clock = Stopwatch.StartNew();
        var lost = await provider.WaitForAsync(s => s.State != TunnelState.Connected, TimeSpan.FromSeconds(20));
        var detectedAfter = clock.Elapsed;
        var again = await provider.WaitReadyAsync();
        var result = await Curl.GetAsync(gateway, provider.Label("web"));

        await Assert.That(detectedAfter).IsLessThan(TimeSpan.FromSeconds(15));
        await Assert.That(lost.LastError!).Contains("dead link");
        await Assert.That(again.ConnectedSince).IsNotEqualTo(first.ConnectedSince);
        await Assert.That(proxy.Connections).IsEqualTo(2);
        await Assert.That(result.Status).IsEqualTo(200);
    }

    [Test]
    public async Task On_shutdown_the_gateway_lets_an_in_flight_request_finish_then_the_provider_comes_back()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        var inFlight = Curl.GetAsync(gateway, provider.Label("web"), "/hold");
        await upstream.Held.WaitAsync(TestProvider.Guard);
        var stopping = gateway.StopAsync();
        await gateway.WaitForOutputAsync("shutting down", TestProvider.Guard);
        upstream.ReleaseHeld();
        var result = await inFlight;
        await stopping;

        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(result.Body).IsEqualTo("released");
        await Assert.That(gateway.ExitCode).IsEqualTo(0);

        await gateway.RestartAsync();
        await provider.WaitForAsync(s => s.State == TunnelState.Connected && s.ConnectedSince > DateTimeOffset.UtcNow.AddSeconds(-15));
        await provider.WaitReadyAsync();
        await Assert.That((await Curl.GetAsync(gateway, provider.Label("web"))).Status).IsEqualTo(200);
    }

    [Test]
    public async Task A_gateway_stopped_after_a_providers_visit_still_knows_its_hostnames_after_a_restart()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string label = provider.Label("web");
        await provider.DisposeAsync();

        // The bindings are written in the background (and what is pending is flushed on SIGTERM); a restart reads them back.
        await gateway.StopAsync();
        int? exitCode = gateway.ExitCode;
        await gateway.RestartAsync();
        var result = await Curl.GetAsync(gateway, label);

        // Remembered: the owner is away (503), not an unknown name (404).
        await Assert.That(exitCode).IsEqualTo(0);
        await Assert.That(result.Status).IsEqualTo(503);
    }

    [Test]
    public async Task A_provider_that_stops_drains_its_in_flight_request_before_closing()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        var inFlight = Curl.GetAsync(gateway, provider.Label("web"), "/hold");
        await upstream.Held.WaitAsync(TestProvider.Guard);
        var stopping = provider.StopAsync();
        // Once the gateway has the provider's GoAway, new requests are turned away while the old one goes on.
        int status = 0;
        for (int attempt = 0; attempt < 200 && status != 503; attempt++)
            status = (await Curl.GetAsync(gateway, provider.Label("web"))).Status;
        upstream.ReleaseHeld();
        var result = await inFlight;
        await stopping;

        await Assert.That(status).IsEqualTo(503);
        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(result.Body).IsEqualTo("released");
        await Assert.That(provider.Client.Status.State).IsEqualTo(TunnelState.Stopped);
    }
}

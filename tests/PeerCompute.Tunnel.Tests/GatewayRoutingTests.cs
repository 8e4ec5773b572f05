using System.Net;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>The whole chain with real processes: curl → gateway (TLS 1.3) → tunnel → TunnelClient → upstream.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayRoutingTests
{
    [Test]
    [Arguments("--http1.1", "1.1")]
    [Arguments("--http2", "2")]
    public async Task A_deployed_page_is_served_over_https_through_the_tunnel(string curlFlag, string expectedVersion)
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        var result = await Curl.GetAsync(gateway, provider.Label("web"), "/", curlFlag);

        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(result.HttpVersion).IsEqualTo(expectedVersion);
        await Assert.That(result.Body).Contains(UpstreamServer.PageMarker);
        await Assert.That(provider.Client.GetPublicUrl("web")).IsEqualTo(gateway.UrlFor(provider.Label("web")));
    }

    [Test]
    public async Task The_container_sees_the_public_host_and_forwarded_headers_set_by_the_gateway_not_the_client()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        // A raw request: curl rewrites the Connection header it is given.
        string host = $"{provider.Label("web")}.{gateway.Domain}:{gateway.HttpsPort}";
        var result = await RawHttp11Async(gateway, host,
            $"GET /headers HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
            "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6\r\n\r\n");

        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(result.Body).Contains("x-forwarded-for: 127.0.0.1\n");
        await Assert.That(result.Body).Contains("x-forwarded-proto: https\n");
        await Assert.That(result.Body).Contains($"x-forwarded-host: {provider.Label("web")}.{gateway.Domain}:{gateway.HttpsPort}\n");
        await Assert.That(result.Body).Contains($"host: {provider.Label("web")}.{gateway.Domain}:{gateway.HttpsPort}\n");
        await Assert.That(result.Body).DoesNotContain("6.6.6.6");
        await Assert.That(result.Body).DoesNotContain("evil.example");
        // Hop-by-hop headers stay on the client's hop.
        await Assert.That(result.Body).DoesNotContain("keep-alive");
        await Assert.That(result.Body).DoesNotContain("timeout=5");
    }

    [Test]
    public async Task A_container_that_accepts_but_never_answers_gets_504_after_the_response_timeout()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--response-timeout", "2");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        var stuck = Curl.GetAsync(gateway, provider.Label("web"), "/hold");
        await upstream.Held.WaitAsync(TestProvider.Guard);
        var result = await stuck.WaitAsync(TestProvider.Guard);

        await Assert.That(result.Status).IsEqualTo(504);
        await Assert.That(result.Body).IsEqualTo($"504: the container of {provider.Label("web")} did not answer in time\n");
        // The next request is served as usual: the stuck one took nothing with it.
        await Assert.That((await Curl.GetAsync(gateway, provider.Label("web"))).Status).IsEqualTo(200);
    }

    [Test]
    public async Task An_unknown_host_answers_404()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        using var stranger = PeerIdentity.Generate();
        string label = TunnelHostname.LabelFor("web", TunnelHostname.TagFor(stranger.PeerId));

        var unknownTag = await Curl.GetAsync(gateway, label);
        var notALabel = await Curl.GetAsync(gateway, "no-tag-here");

        await Assert.That(unknownTag.Status).IsEqualTo(404);
        await Assert.That(notALabel.Status).IsEqualTo(404);
    }

    [Test]
    public async Task A_name_whose_provider_went_offline_answers_503_and_a_name_it_never_served_404()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string label = provider.Label("web");
        string neverServed = provider.Label("other");
        await provider.StopAsync();
        await provider.DisposeAsync();
        await gateway.WaitForOutputAsync("disconnected", TimeSpan.FromSeconds(30));

        var offline = await Curl.GetAsync(gateway, label);
        var unknown = await Curl.GetAsync(gateway, neverServed);

        await Assert.That(offline.Status).IsEqualTo(503);
        await Assert.That(offline.Body).IsEqualTo($"503: no provider is connected for {label}\n");
        await Assert.That(unknown.Status).IsEqualTo(404);
    }

    [Test]
    public async Task A_container_that_does_not_accept_connections_answers_502_naming_it()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var closedPort = new IPEndPoint(IPAddress.Loopback, GatewayProcess.FreePort());
        await using var provider = TestProvider.For(gateway, new() { ["down"] = closedPort }).Start();
        await provider.WaitReadyAsync();

        var result = await Curl.GetAsync(gateway, provider.Label("down"));

        await Assert.That(result.Status).IsEqualTo(502);
        await Assert.That(result.Body).IsEqualTo($"502: the provider is connected but the container of {provider.Label("down")} does not answer on its port\n");
    }

    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task A_container_port_that_accepts_and_closes_without_answering_is_a_502_naming_the_container_and_one_gateway_line(bool reset)
    {
        // What Docker's port proxy does when the container listens on another port than the one deployed with.
        using var pki = TestPki.Create();
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var closer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var accepted = await listener.AcceptSocketAsync(stop.Token);
                if (reset)
                    accepted.LingerState = new System.Net.Sockets.LingerOption(true, 0);
                accepted.Close();
            }
        });
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = (IPEndPoint)listener.LocalEndpoint }).Start();
        await provider.WaitReadyAsync();
        string label = provider.Label("web");

        var result = await Curl.GetAsync(gateway, label);
        await gateway.WaitForOutputAsync($"{label}: 502", TestProvider.Guard);
        await stop.CancelAsync();

        await Assert.That(result.Status).IsEqualTo(502);
        await Assert.That(result.Body).IsEqualTo($"502: the provider is connected but the container of {label} does not answer on its port\n");
        var lines = gateway.Output.Split('\n');
        await Assert.That(lines.Count(l => l.Contains(label, StringComparison.Ordinal) && !l.Contains("serving", StringComparison.Ordinal))).IsEqualTo(1);
        await Assert.That(lines.Any(l => l.StartsWith("   at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal))).IsFalse();
    }

    [Test]
    public async Task Tls_1_2_is_refused_on_the_public_port()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");

        var tls12 = await Curl.GetAsync(gateway, "x", "/", "--tlsv1.2", "--tls-max", "1.2");
        var tls13 = await Curl.GetAsync(gateway, "x", "/", "--tlsv1.3");

        await Assert.That(tls12.ExitCode).IsNotEqualTo(0);
        await Assert.That(tls12.Status).IsEqualTo(0);
        await Assert.That(tls13.ExitCode).IsEqualTo(0);
        await Assert.That(tls13.Status).IsEqualTo(404);
    }

    [Test]
    public async Task An_untrusted_provider_is_refused_and_a_trusted_one_accepted()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        using var trustedIdentity = PeerIdentity.Generate();
        string trustFile = Path.Combine(pki.Folder, "providers.txt");
        await File.WriteAllTextAsync(trustFile, $"# providers Lee accepts\n{trustedIdentity.PeerId}\n");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--trust-provider", trustFile);
        await using var untrusted = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await using var trusted = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }, PeerIdentity.FromSeed(SeedOf(trustedIdentity))).Start();

        var refused = await untrusted.WaitForAsync(s => s.LastError is not null);
        await trusted.WaitReadyAsync();

        await Assert.That(refused.LastError!).Contains("not trusted");
        await Assert.That(refused.State).IsNotEqualTo(TunnelState.Connected);
        await Assert.That((await Curl.GetAsync(gateway, untrusted.Label("web"))).Status).IsEqualTo(404);
        await Assert.That((await Curl.GetAsync(gateway, trusted.Label("web"))).Status).IsEqualTo(200);
    }

    private static async Task<(int Status, string Body)> RawHttp11Async(GatewayProcess gateway, string host, string request)
    {
        var exchange = await RawHttps.SendAsync(gateway, host.Split(':')[0], request, maxResponses: 1);
        return (exchange.FirstStatus, exchange.Responses[0].Body);
    }

    internal static byte[] SeedOf(PeerIdentity identity) => identity.ExportPrivateKeyProtobuf()[4..36];
}

/// <summary>Tests that start processes run two at a time: the machine has two cores.</summary>
public sealed class ProcessTestsLimit : TUnit.Core.Interfaces.IParallelLimit
{
    public int Limit => 2;
}

using System.Net;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>Deployments share the gateway's parent domain; one deployment's cookies must not reach the others.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayCookieTests
{
    [Test]
    public async Task Cookie_domains_beyond_the_deployments_own_host_are_removed_and_its_own_host_is_kept()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        string ownHost = "";
        await using var upstream = await UpstreamServer.StartAsync();
        upstream.Cookies = () =>
        [
            $"session=1; Path=/; Domain={gateway.Domain}; HttpOnly",
            $"dotted=2; Domain=.{gateway.Domain}",
            "parent=3; Secure; domain = localhost ; Path=/",
            $"own=4; Domain={ownHost}; Path=/",
            "plain=5; Path=/",
        ];
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        ownHost = $"{provider.Label("web")}.{gateway.Domain}";
        using var client = GatewayHttp.Client(gateway);

        using var response = await client.GetAsync(gateway.UrlFor(provider.Label("web")) + "cookies");
        string[] cookies = response.Headers.GetValues("Set-Cookie").ToArray();

        await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(cookies).IsEquivalentTo(new[]
        {
            "session=1; Path=/; HttpOnly",
            "dotted=2",
            "parent=3; Secure; Path=/",
            $"own=4; Domain={ownHost}; Path=/",
            "plain=5; Path=/",
        });
    }
}

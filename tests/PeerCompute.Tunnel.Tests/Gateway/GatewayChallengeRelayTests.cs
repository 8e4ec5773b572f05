using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// Gateways of one zone that pass HTTP-01 challenges (--peer-gateway): with DNS listing both, the CA may validate a
/// custom domain's order at the gateway that did not start it, which asks its peer for the key authorization.
/// </summary>
public class GatewayChallengeRelayTests
{
    private const string Zone = "gw.example.org";
    private const string Custom = "www.example.org";
    private const string Marker = "PeerCompute-Challenge-Relay";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);
    private static readonly string Thumbprint = new('T', 43);

    [Test]
    [ParallelLimiter<ProcessTestsLimit>]
    public async Task A_token_the_gateway_does_not_hold_is_answered_from_its_peer_once_and_only_when_well_formed()
    {
        await using var peer = await ChallengePeerStub.StartAsync();
        using var pki = TestPki.Create();
        int httpPort = FreePorts.One();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--http-port", httpPort.ToString(CultureInfo.InvariantCulture),
            "--peer-gateway", peer.Url.ToString());
        using var http = new HttpClient();
        async Task<(HttpStatusCode Status, string Body)> AskAsync(string token, bool relayed = false)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{httpPort}/.well-known/acme-challenge/{token}");
            if (relayed)
                request.Headers.Add(Marker, "1");
            using var response = await http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        peer.Answer = token => token + "." + Thumbprint;
        var relayed = await AskAsync("tokenA");
        var asked = peer.Requests.ToArray();
        // A request that a peer gateway relayed is answered from this gateway's own tokens only, never relayed again.
        var again = await AskAsync("tokenB", relayed: true);
        int afterRelayed = peer.Requests.Count;
        var malformed = await AskAsync("not.a%2Ftoken");
        int afterMalformed = peer.Requests.Count;

        peer.Answer = _ => "<html>a page, not a key authorization</html>";
        var garbage = await AskAsync("tokenC");
        peer.Answer = _ => "otherToken." + Thumbprint;
        var otherToken = await AskAsync("tokenD");
        peer.Answer = token => token + "." + new string('T', 10_000);
        var oversized = await AskAsync("tokenE");
        peer.Answer = _ => null;
        var none = await AskAsync("tokenF");

        await Assert.That(relayed.Status).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(relayed.Body).IsEqualTo("tokenA." + Thumbprint);
        await Assert.That(asked.Length).IsEqualTo(1);
        await Assert.That(asked[0].Path).IsEqualTo("/.well-known/acme-challenge/tokenA");
        await Assert.That(asked[0].Marker).IsEqualTo("1");
        await Assert.That(again.Status).IsEqualTo(HttpStatusCode.NotFound);
        await Assert.That(afterRelayed).IsEqualTo(1).Because("a relayed request must not be passed to the peers again");
        await Assert.That(malformed.Status).IsEqualTo(HttpStatusCode.NotFound);
        await Assert.That(afterMalformed).IsEqualTo(1).Because("a token that is not base64url is never sent to a peer");
        foreach (var (status, body) in new[] { garbage, otherToken, oversized, none })
        {
            await Assert.That(status).IsEqualTo(HttpStatusCode.NotFound);
            await Assert.That(body).IsEmpty();
        }
        await Assert.That(peer.Requests.Count).IsEqualTo(5);
        await Assert.That(gateway.Output).Contains("not a key authorization for it; not passed on");
    }

    [Test]
    [NotInParallel("pebble")]
    public async Task Two_gateways_each_obtain_a_custom_domains_certificate_when_the_ca_validates_at_the_other()
    {
        int dnsPort = FreePorts.One();
        await using var world = new StubDns(Zone, dnsPort);
        await using var pebble = await Pebble.StartAsync(world.Port, validitySeconds: 3600);
        string http = pebble.HttpPort.ToString(CultureInfo.InvariantCulture);
        string[] acme = ["--acme-directory", pebble.DirectoryUrl, "--acme-email", "ops@example.org", "--acme-ca", pebble.TlsRootFile, "--acme-retry-seconds", "1",
            "--http-port", http, "--resolver", $"127.0.0.1:{world.Port}", "--domain-check-seconds", "1"];
        // The issuer (127.0.0.1) runs the zone's DNS and orders the wildcard; both gateways order custom domains.
        string issuerHome = Directory.CreateTempSubdirectory("pc-gateway-peer1-").FullName;
        await using var first = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Zone, [])
        {
            Listen = "127.0.0.1",
            ExtraArgs = ["--open", "--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture), "--public-ip", "127.0.0.1", "--public-ip", "127.0.0.2",
                .. acme, "--peer-gateway", $"http://127.0.0.2:{http}"],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = issuerHome },
        });
        await first.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string wildcard = Path.Combine(issuerHome, "gateway", "acme");
        string secondHome = Directory.CreateTempSubdirectory("pc-gateway-peer2-").FullName;
        await using var second = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Zone,
            ["--cert", Path.Combine(wildcard, "certificate.pem"), "--key", Path.Combine(wildcard, "certificate.key")])
        {
            Listen = "127.0.0.2",
            ExtraArgs = ["--open", .. acme, "--peer-gateway", $"http://127.0.0.1:{http}"],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = secondHome },
        });
        string root = await pebble.IssuingRootFileAsync();

        // One provider (one identity), a tunnel to each gateway, one deployment carrying the custom domain.
        byte[] seed = RandomNumberGenerator.GetBytes(32);
        await using var upstream = await UpstreamServer.StartAsync();
        using var pki = TestPki.Create(Zone);
        var routes = new Dictionary<string, IPEndPoint> { ["web"] = upstream.EndPoint };
        var domains = new Dictionary<string, IReadOnlyList<string>> { ["web"] = [Custom] };
        await using var toFirst = TestProvider.Create("127.0.0.1", first.TunnelPort, pki, routes, PeerIdentity.FromSeed(seed), o => o with { CaFile = root });
        await using var toSecond = TestProvider.Create("127.0.0.2", second.TunnelPort, pki, routes, PeerIdentity.FromSeed(seed), o => o with { CaFile = root });
        toFirst.Client.SetRoutes(["web"], domains: domains);
        toSecond.Client.SetRoutes(["web"], domains: domains);
        world.Cnames[Custom] = toFirst.Label("web") + "." + Zone;

        // The first gateway orders while the domain resolves to the second: pebble's HTTP-01 request reaches the second.
        world.Addresses[Custom] = IPAddress.Parse("127.0.0.2");
        toFirst.Start();
        await first.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal), Guard);
        // And the other way round.
        world.Addresses[Custom] = IPAddress.Loopback;
        toSecond.Start();
        await second.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal), Guard);

        var atFirst = await Curl.RunAsync(["--cacert", root, "--resolve", $"{Custom}:{first.HttpsPort}:127.0.0.1", $"https://{Custom}:{first.HttpsPort}/"]);
        var atSecond = await Curl.RunAsync(["--cacert", root, "--resolve", $"{Custom}:{second.HttpsPort}:127.0.0.2", $"https://{Custom}:{second.HttpsPort}/"]);
        await Assert.That(atFirst.ExitCode).IsEqualTo(0).Because(atFirst.Error);
        await Assert.That(atFirst.Body).Contains(UpstreamServer.PageMarker);
        await Assert.That(atSecond.ExitCode).IsEqualTo(0).Because(atSecond.Error);
        await Assert.That(atSecond.Body).Contains(UpstreamServer.PageMarker);
        await Assert.That(second.Process.Output).Contains($"answered from peer gateway http://127.0.0.1:{http}/");
        await Assert.That(first.Process.Output).Contains($"answered from peer gateway http://127.0.0.2:{http}/");
    }
}

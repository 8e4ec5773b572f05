using System.Globalization;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// A custom domain end to end: a provider's route carries www.example.org, the world's DNS is a stub of the test's own
/// (pebble and the gateway's --resolver ask it), pebble checks HTTP-01 on the gateway's --http-port. Not served until
/// its CNAME points at the deployment's hostname, then served with a certificate for it that chains to pebble's root;
/// a second deployment claiming the same domain is refused.
/// </summary>
[NotInParallel("pebble")]
public class GatewayCustomDomainTests
{
    private const string Zone = "gw.example.org";
    private const string Custom = "www.example.org";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    [Test]
    public async Task A_custom_domain_is_served_with_its_own_certificate_only_after_its_cname_points_at_the_deployment()
    {
        int dnsPort = FreePorts.One();
        await using var world = new StubDns(Zone, dnsPort);
        await using var pebble = await Pebble.StartAsync(world.Port, validitySeconds: 3600);
        string home = Directory.CreateTempSubdirectory("pc-gateway-domains-").FullName;
        await using var gateway = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Zone, [])
        {
            ExtraArgs = ["--open", .. pebble.GatewayArgs(dnsPort, world)],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home },
            Metrics = true,
        });
        await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string statusPage = $"http://127.0.0.1:{gateway.MetricsPort}/";
        using var http = new HttpClient();
        string root = await pebble.IssuingRootFileAsync();
        string port = gateway.HttpsPort.ToString(CultureInfo.InvariantCulture);
        string[] customUrl = ["--resolve", $"{Custom}:{port}:127.0.0.1", $"https://{Custom}:{port}/"];

        await using var upstream = await UpstreamServer.StartAsync();
        using var pki = TestPki.Create(Zone);
        await using var owner = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, new() { ["web"] = upstream.EndPoint }, configure: o => o with { CaFile = root });
        owner.Client.SetRoutes(["web"], domains: new Dictionary<string, IReadOnlyList<string>> { ["web"] = [Custom] });
        owner.Start();
        var ownerStatus = await owner.WaitForAsync(s => s.Routes.ContainsKey(Custom), Guard);
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: waiting for its DNS", StringComparison.Ordinal), Guard);
        var before = await Curl.RunAsync(["-k", .. customUrl]);
        string waitingPage = await http.GetStringAsync(statusPage);

        await using var rival = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, new() { ["site"] = upstream.EndPoint }, configure: o => o with { CaFile = root });
        rival.Client.SetRoutes(["site"], domains: new Dictionary<string, IReadOnlyList<string>> { ["site"] = [Custom] });
        rival.Start();
        var rivalStatus = await rival.WaitForAsync(s => s.Routes.ContainsKey(Custom), Guard);

        world.Cnames[Custom] = owner.Label("web") + "." + Zone;
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal), Guard);
        var after = await Curl.RunAsync(["--cacert", root, .. customUrl]);
        string servingPage = await http.GetStringAsync(statusPage);
        var redirect = await Curl.RunAsync(["--resolve", $"{Custom}:{pebble.HttpPort}:127.0.0.1", $"http://{Custom}:{pebble.HttpPort}/path?q=1"]);

        await Assert.That(ownerStatus.Routes[Custom].Accepted).IsTrue();
        await Assert.That(before.Status).IsEqualTo(404);
        await Assert.That(before.Body).DoesNotContain(UpstreamServer.PageMarker);
        await Assert.That(rivalStatus.Routes[Custom].Accepted).IsFalse();
        await Assert.That(rivalStatus.Routes[Custom].Reason).Contains("held by another deployment");
        await Assert.That(after.ExitCode).IsEqualTo(0).Because(after.Error);
        await Assert.That(after.Status).IsEqualTo(200);
        await Assert.That(after.Body).Contains(UpstreamServer.PageMarker);
        await Assert.That(redirect.Status).IsEqualTo(308);
        await Assert.That(redirect.Headers["Location"]).IsEqualTo($"https://{Custom}:{port}/path?q=1");
        await Assert.That(File.Exists(Path.Combine(home, "gateway", "acme", "domains", Custom + ".pem"))).IsTrue();

        // The operator's status page lists the domain, where it routes, and its state; the detail's quotes are escaped.
        string target = owner.Label("web") + "." + Zone;
        await Assert.That(waitingPage).Contains("<span id=\"domain-count\">1</span>");
        await Assert.That(waitingPage).Contains($"<td>{Custom}</td><td>{target}</td><td>waiting for DNS</td>");
        await Assert.That(waitingPage).Contains($"TXT _peercompute.{Custom} &quot;{target}&quot;");
        await Assert.That(waitingPage).DoesNotContain($"\"{target}\"");
        await Assert.That(servingPage).Contains($"<td>{Custom}</td><td>{target}</td><td>serving</td><td>valid until ");
    }

    [Test]
    public async Task A_gateway_without_custom_domains_refuses_the_domain_and_still_serves_the_generated_name()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var upstream = await UpstreamServer.StartAsync();
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint });
        provider.Client.SetRoutes(["web"], domains: new Dictionary<string, IReadOnlyList<string>> { ["web"] = [Custom] });
        provider.Start();

        var status = await provider.WaitForAsync(s => s.Routes.ContainsKey(Custom) && s.Routes.ContainsKey(provider.Label("web")));
        var generated = await Curl.GetAsync(gateway, provider.Label("web"));

        await Assert.That(status.Routes[Custom].Accepted).IsFalse();
        await Assert.That(status.Routes[Custom].Reason).Contains("serves no custom domains");
        await Assert.That(status.Routes[provider.Label("web")].Accepted).IsTrue();
        await Assert.That(generated.Body).Contains(UpstreamServer.PageMarker);
    }
}

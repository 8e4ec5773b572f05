using System.Globalization;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// Tunnel protocol 5 with the real gateway: a provider asks where its custom domains stand (what `peerctl status` and
/// `peerctl domain ls` show), learns that another provider's hold is not its own, and gives a domain up when its
/// deployment stops, after which another deployment may claim it.
/// </summary>
[NotInParallel("pebble")]
public class CustomDomainStatusTests
{
    private const string Zone = "gw.example.org";
    private const string Custom = "shop.example.org";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    [Test]
    public async Task A_provider_learns_where_its_domain_stands_and_a_stopped_deployment_gives_it_up()
    {
        int dnsPort = FreePorts.One();
        await using var world = new StubDns(Zone, dnsPort);
        await using var pebble = await Pebble.StartAsync(world.Port, validitySeconds: 3600);
        string home = Directory.CreateTempSubdirectory("pc-gateway-domain-status-").FullName;
        await using var gateway = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Zone, [])
        {
            ExtraArgs = ["--open", .. pebble.GatewayArgs(dnsPort, world)],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home },
        });
        await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string root = await pebble.IssuingRootFileAsync();
        await using var upstream = await UpstreamServer.StartAsync();
        using var pki = TestPki.Create(Zone);
        await using var owner = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, new() { ["web"] = upstream.EndPoint }, configure: o => o with { CaFile = root });
        owner.Client.SetRoutes(["web"], domains: new Dictionary<string, IReadOnlyList<string>> { ["web"] = [Custom] });
        owner.Start();
        await owner.WaitForAsync(s => s.Routes.ContainsKey(Custom), Guard);
        await using var rival = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, new() { ["site"] = upstream.EndPoint }, configure: o => o with { CaFile = root });
        rival.Client.SetRoutes(["site"], domains: new Dictionary<string, IReadOnlyList<string>> { ["site"] = [Custom] });
        rival.Start();
        var refused = await rival.WaitForAsync(s => s.Routes.ContainsKey(Custom), Guard);

        var waiting = (await owner.Client.QueryDomainsAsync([Custom, "never.example.org"], CancellationToken.None))!;
        var asSeenByRival = (await rival.Client.QueryDomainsAsync([Custom], CancellationToken.None))!;
        world.Cnames[Custom] = owner.Label("web") + "." + Zone;
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal), Guard);
        var serving = (await owner.Client.QueryDomainsAsync([Custom], CancellationToken.None))!;

        // The deployment stops: the provider announces no route for it and gives its domain up; the rival claims it next.
        owner.Client.SetRoutes([], released: [("web", Custom)]);
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: released by its deployment", StringComparison.Ordinal), Guard);
        rival.Client.SetRoutes(["site"], domains: new Dictionary<string, IReadOnlyList<string>> { ["site"] = [Custom] });
        var claimed = await rival.WaitForAsync(s => s.Routes.TryGetValue(Custom, out var r) && r.Accepted, Guard);
        var afterRelease = (await owner.Client.QueryDomainsAsync([Custom], CancellationToken.None))!;

        // The domain's owner points it at the new deployment: served at once with the certificate already on disk.
        world.Cnames[Custom] = rival.Label("site") + "." + Zone;
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: served with its certificate from before", StringComparison.Ordinal), Guard);
        var reclaimed = (await rival.Client.QueryDomainsAsync([Custom], CancellationToken.None))!;
        var page = await Curl.RunAsync(["--cacert", root, "--resolve", $"{Custom}:{gateway.HttpsPort}:127.0.0.1", $"https://{Custom}:{gateway.HttpsPort}/"]);
        int orders = gateway.Process.Output.Split('\n').Count(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal));

        await Assert.That(refused.Routes[Custom].Accepted).IsFalse();
        await Assert.That(waiting[0].State).IsEqualTo(DomainState.WaitingForDns);
        await Assert.That(waiting[0].Detail).Contains($"CNAME to {owner.Label("web")}.{Zone}");
        await Assert.That(waiting[1].State).IsEqualTo(DomainState.Unknown);
        await Assert.That(asSeenByRival[0].State).IsEqualTo(DomainState.HeldByAnother);
        await Assert.That(asSeenByRival[0].Label).IsNull();
        await Assert.That(serving[0].State).IsEqualTo(DomainState.Serving);
        await Assert.That(serving[0].CertificateExpires!.Value).IsGreaterThan(DateTimeOffset.UtcNow);
        await Assert.That(claimed.Routes[Custom].Accepted).IsTrue();
        await Assert.That(afterRelease[0].State).IsEqualTo(DomainState.HeldByAnother);
        await Assert.That(reclaimed[0].State).IsEqualTo(DomainState.Serving);
        await Assert.That(page.Status).IsEqualTo(200).Because(page.Error);
        await Assert.That(orders).IsEqualTo(1);
    }

    [Test]
    public async Task A_gateway_without_custom_domains_says_so_and_a_release_of_a_domain_never_held_changes_nothing()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var upstream = await UpstreamServer.StartAsync();
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint });
        provider.Client.SetRoutes(["web"], released: [("old", "www.example.org")]);
        provider.Start();
        await provider.WaitForAsync(s => s.Routes.ContainsKey(provider.Label("web")));

        var states = (await provider.Client.QueryDomainsAsync(["www.example.org"], CancellationToken.None))!;
        var generated = await Curl.GetAsync(gateway, provider.Label("web"));

        await Assert.That(states.Single().State).IsEqualTo(DomainState.Unknown);
        await Assert.That(states.Single().Detail).Contains("serves no custom domains");
        await Assert.That(generated.Body).Contains(UpstreamServer.PageMarker);
    }
}

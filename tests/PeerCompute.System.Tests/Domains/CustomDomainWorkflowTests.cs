using System.Globalization;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.System.Tests.Domains;

/// <summary>
/// A custom domain with the real programs: peerctl deploys with --domain, peercomputed runs the container and announces
/// the domain, the gateway (its certificates from Debian's pebble, challenge checks on) verifies the CNAME through a
/// stub of the world's DNS, obtains the domain's certificate by HTTP-01 and serves it; peerctl shows each step, adds a
/// second domain without a new container, and a stop gives the domains up at the gateway.
/// </summary>
[NotInParallel("system")]
public class CustomDomainWorkflowTests
{
    private const string Zone = "gw.example.org";
    private const string Shop = "shop.example.org";
    private const string Second = "www.shop.example.org";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    [Test]
    public async Task A_deployments_custom_domain_is_served_once_its_cname_points_at_it_and_is_given_up_when_it_stops()
    {
        int dnsPort = FreePorts.One();
        await using var world = new StubDns(Zone, dnsPort);
        await using var pebble = await Pebble.StartAsync(world.Port, validitySeconds: 3600);
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(launch => launch with
        {
            Domain = Zone,
            Tls = [],
            ExtraArgs = [.. pebble.GatewayArgs(dnsPort, world)],
        });
        var user = cluster.User;
        var gateway = cluster.Gateway;
        string root = await pebble.IssuingRootFileAsync();

        var deployed = JsonDocument.Parse(await user.CtlOkAsync(["deploy", Deploy.DeployWorkflowTests.TestImage, "--name", "shop", "--port", "8080", "--domain", Shop, "--json"])).RootElement;
        string host = new Uri(deployed.GetProperty("publicUrl").GetString()!).Host;
        var waiting = await DomainsAsync(user, "shop", d => d.GetProperty("state").GetString() == "waiting_for_dns");
        var before = await CurlAsync(gateway, Shop, null);

        world.Cnames[Shop] = host;
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Shop}: certificate obtained", StringComparison.Ordinal), Guard);
        var served = await CurlAsync(gateway, Shop, root);
        var serving = await DomainsAsync(user, "shop", d => d.GetProperty("state").GetString() == "serving");
        string status = await user.CtlOkAsync("status", "shop");

        string added = await user.CtlOkAsync("domain", "add", "shop", Second);
        var both = await DomainsAsync(user, "shop", d => d.GetProperty("name").GetString() == Second);
        var history = JsonDocument.Parse(await user.CtlOkAsync("history", "shop", "--json")).RootElement.GetProperty("revisions");

        await user.CtlOkAsync("stop", "shop");
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Shop}: released by its deployment", StringComparison.Ordinal), Guard);

        await Assert.That(waiting.GetProperty("detail").GetString()).Contains($"CNAME to {host}");
        await Assert.That(before.Status).IsEqualTo(404);
        await Assert.That(before.Body).DoesNotContain("peercompute test page");
        await Assert.That(served.Status).IsEqualTo(200).Because(served.Body);
        await Assert.That(served.Body).Contains("peercompute test page");
        await Assert.That(serving.GetProperty("certificateExpires").GetDateTimeOffset()).IsGreaterThan(DateTimeOffset.UtcNow);
        await Assert.That(serving.GetProperty("gateway").GetString()).IsEqualTo(gateway.TunnelAddress);
        await Assert.That(status).Contains($"{Shop} at {gateway.TunnelAddress}: serving");
        await Assert.That(added).Contains($"Point a CNAME at {host}");
        await Assert.That(both.GetProperty("state").GetString()).IsEqualTo("waiting_for_dns");
        await Assert.That(history.GetArrayLength()).IsEqualTo(1).Because("adding a domain makes no new revision");
    }

    [Test]
    public async Task A_malformed_domain_or_one_the_deployment_does_not_have_is_refused_clearly()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        await user.CtlOkAsync(["deploy", Deploy.DeployWorkflowTests.TestImage, "--name", "site", "--port", "8080", "--json"]);

        var malformed = await user.CtlAsync("domain", "add", "site", "not a domain");
        var missing = await user.CtlAsync("domain", "rm", "site", "www.example.org");
        var noDeployment = await user.CtlAsync("domain", "add", "nothere", "www.example.org");

        await Assert.That(malformed.ExitCode).IsEqualTo(2).Because(malformed.ToString());
        await Assert.That(malformed.StandardError).Contains("is not a domain name");
        await Assert.That(missing.ExitCode).IsNotEqualTo(0);
        await Assert.That(missing.StandardError).Contains("has no custom domain www.example.org");
        await Assert.That(noDeployment.StandardError).Contains("No deployment 'nothere'");
    }

    /// <summary>The deployment's domain entry that <paramref name="ready"/> accepts, from `peerctl domain ls --json`, polled until it shows.</summary>
    private static async Task<JsonElement> DomainsAsync(PeerNode user, string deployment, Func<JsonElement, bool> ready)
    {
        var deadline = DateTime.UtcNow + Guard;
        while (true)
        {
            var answer = JsonDocument.Parse(await user.CtlOkAsync("domain", "ls", deployment, "--json")).RootElement;
            foreach (var domain in answer.GetProperty("domains").EnumerateArray())
                if (ready(domain))
                    return domain.Clone();
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no such domain entry within {Guard.TotalSeconds} s: {answer}");
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// A request for <paramref name="domain"/> sent to the gateway on loopback. With <paramref name="root"/> curl checks the
    /// certificate against pebble's root; before the domain has one, -k shows what the gateway answers.
    /// </summary>
    private static async Task<(int Status, string Body)> CurlAsync(GatewayProcess gateway, string domain, string? root)
    {
        string port = gateway.HttpsPort.ToString(CultureInfo.InvariantCulture);
        string[] trust = root is null ? ["-k"] : ["--cacert", root];
        var result = await TestProcess.RunAsync("curl", ["-sS", .. trust, "--resolve", $"{domain}:{port}:127.0.0.1", "-w", "\n%{http_code}", $"https://{domain}:{port}/"]);
        if (result.ExitCode != 0)
            return (0, result.ToString());
        string output = result.StandardOutput;
        int split = output.LastIndexOf('\n');
        return (int.Parse(output[(split + 1)..], CultureInfo.InvariantCulture), output[..split]);
    }
}

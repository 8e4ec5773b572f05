using System.Net;
using PeerCompute.Core.Access;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Routes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>A deployment's custom domains: checked with its spec, part of its hash only when set, carried with its route.</summary>
public sealed class CustomDomainSpecTests
{
    private static readonly RuntimeOptions Options = new();

    private static DeploymentSpec Valid => new()
    {
        Name = "web",
        Image = "peercompute-test/busybox:latest",
        ContainerPort = 8080,
        CpuMillicores = 500,
        MemoryBytes = 128 * RuntimeOptions.MiB,
    };

    private static RuntimeException Refused(DeploymentSpec spec)
    {
        try
        {
            DeploymentSpecValidator.Validate(spec, Options);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.InvalidSpec)
        {
            return ex;
        }
        throw new InvalidOperationException("the request was accepted");
    }

    [Test]
    [Arguments("example")]
    [Arguments("WWW.example.org")]
    [Arguments("www.example.org.")]
    [Arguments("-www.example.org")]
    [Arguments("www..example.org")]
    [Arguments("www.exa_mple.org")]
    public async Task A_malformed_domain_is_refused_with_its_name(string domain)
    {
        var error = Refused(Valid with { Domains = [domain] });

        await Assert.That(error.Message).Contains($"domain '{domain}'");
    }

    [Test]
    public async Task Valid_domains_pass_but_more_than_the_maximum_or_on_a_private_service_do_not()
    {
        DeploymentSpecValidator.Validate(Valid with { Domains = ["www.example.org", "example.org"] }, Options);
        var tooMany = Refused(Valid with { Domains = [.. Enumerable.Range(0, DeploymentSpec.MaxDomains + 1).Select(i => $"d{i}.example.org")] });
        var onPrivate = Refused(Valid with { App = "shop", Service = "db", Private = true, Domains = ["db.example.org"] });

        await Assert.That(tooMany.Message).Contains($"at most {DeploymentSpec.MaxDomains}");
        await Assert.That(onPrivate.Message).Contains("private service");
    }

    [Test]
    public async Task The_hash_changes_with_domains_and_stays_what_it_was_without_them()
    {
        await Assert.That(SpecHash.Compute(Valid with { Domains = [] })).IsEqualTo(SpecHash.Compute(Valid));
        await Assert.That(SpecHash.Compute(Valid with { Domains = ["www.example.org"] })).IsNotEqualTo(SpecHash.Compute(Valid));
    }

    [Test]
    public async Task A_routes_domains_are_announced_while_it_runs_and_dropped_with_it()
    {
        var table = new RouteTable();
        table.Set("web", new IPEndPoint(IPAddress.Loopback, 40001), RouteAccess.Public, ["www.example.org"]);
        table.Set("api", new IPEndPoint(IPAddress.Loopback, 40002), RouteAccess.Public, null);
        var running = table.DomainsSnapshot();
        table.Set("web", null, null, null);

        await Assert.That(running.Keys).IsEquivalentTo(["web"]);
        await Assert.That(running["web"]).IsEquivalentTo(["www.example.org"]);
        await Assert.That(table.DomainsSnapshot()).IsEmpty();
    }
}

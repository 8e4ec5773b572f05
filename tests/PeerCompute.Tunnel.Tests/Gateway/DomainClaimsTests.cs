using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>Who holds a custom domain at a gateway: across re-announcements (reconnects), restarts (the file), and rival claims.</summary>
public class DomainClaimsTests
{
    private const string Zone = "gw.example.org";
    private const string OwnerTag = "abcdefghijkl";
    private const string RivalTag = "mnopqrstuvwx";

    [Test]
    public async Task A_domain_stays_with_its_deployment_across_reconnects_and_restarts_and_is_refused_to_others()
    {
        string folder = Directory.CreateTempSubdirectory("pc-domain-claims-").FullName;
        var claims = DomainClaims.Load(folder, Zone);
        var first = await claims.ApplyAsync(OwnerTag, ["web-" + OwnerTag], [("www.example.org", "web-" + OwnerTag)], CancellationToken.None);
        await claims.SetVerifiedAsync("www.example.org", "web-" + OwnerTag, true, CancellationToken.None);
        var again = await claims.ApplyAsync(OwnerTag, ["web-" + OwnerTag], [("www.example.org", "web-" + OwnerTag)], CancellationToken.None);

        var restarted = DomainClaims.Load(folder, Zone);
        var rival = await restarted.ApplyAsync(RivalTag, ["site-" + RivalTag], [("www.example.org", "site-" + RivalTag)], CancellationToken.None);

        await Assert.That(first).IsEmpty();
        await Assert.That(again).IsEmpty();
        await Assert.That(restarted.VerifiedLabel("www.example.org")).IsEqualTo("web-" + OwnerTag);
        await Assert.That(rival["www.example.org"]).Contains("held by another deployment");
        await Assert.That(File.GetUnixFileMode(Path.Combine(folder, DomainClaims.FileName))).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Test]
    public async Task A_domain_stays_held_through_an_empty_announcement_is_freed_when_its_deployment_drops_it_and_one_moved_between_its_deployments_must_be_verified_again()
    {
        var claims = DomainClaims.Load(null, Zone);
        await claims.ApplyAsync(OwnerTag, ["web-" + OwnerTag], [("www.example.org", "web-" + OwnerTag)], CancellationToken.None);
        await claims.SetVerifiedAsync("www.example.org", "web-" + OwnerTag, true, CancellationToken.None);
        await claims.ApplyAsync(OwnerTag, ["api-" + OwnerTag], [("www.example.org", "api-" + OwnerTag)], CancellationToken.None);
        string? afterMove = claims.VerifiedLabel("www.example.org");
        await claims.ApplyAsync(OwnerTag, [], [], CancellationToken.None);
        var stillHeld = await claims.ApplyAsync(RivalTag, ["site-" + RivalTag], [("www.example.org", "site-" + RivalTag)], CancellationToken.None);
        await claims.ApplyAsync(OwnerTag, ["api-" + OwnerTag], [], CancellationToken.None);
        var rival = await claims.ApplyAsync(RivalTag, ["site-" + RivalTag], [("www.example.org", "site-" + RivalTag)], CancellationToken.None);

        await Assert.That(afterMove).IsNull();
        await Assert.That(stillHeld.ContainsKey("www.example.org")).IsTrue();
        await Assert.That(rival).IsEmpty();
        await Assert.That(claims.All.Single().Label).IsEqualTo("site-" + RivalTag);
    }

    [Test]
    public async Task Two_deployments_of_one_provider_cannot_share_a_domain_and_names_in_the_gateways_zone_or_malformed_are_refused()
    {
        var claims = DomainClaims.Load(null, Zone);
        var refusals = await claims.ApplyAsync(OwnerTag, ["web-" + OwnerTag, "api-" + OwnerTag],
            [("www.example.org", "web-" + OwnerTag), ("www.example.org", "api-" + OwnerTag), ("evil." + Zone, "web-" + OwnerTag), ("Bad_Name.org", "web-" + OwnerTag), ("localhost", "web-" + OwnerTag)],
            CancellationToken.None);

        await Assert.That(refusals.ContainsKey("www.example.org")).IsTrue();
        await Assert.That(claims.All.Single(c => c.Domain == "www.example.org").Label).IsEqualTo("web-" + OwnerTag);
        await Assert.That(refusals["evil." + Zone]).Contains("gateway's own zone");
        await Assert.That(refusals.ContainsKey("Bad_Name.org")).IsTrue();
        await Assert.That(refusals["localhost"]).Contains("fully qualified");
        await Assert.That(claims.All.Count).IsEqualTo(1);
    }

    [Test]
    public async Task A_released_domain_is_freed_only_for_the_label_and_provider_that_held_it()
    {
        var claims = DomainClaims.Load(null, Zone);
        await claims.ApplyAsync(OwnerTag, ["web-" + OwnerTag], [("www.example.org", "web-" + OwnerTag)], CancellationToken.None);
        await claims.ApplyAsync(RivalTag, ["site-" + RivalTag], [], CancellationToken.None, [new("web-" + OwnerTag, "www.example.org")]);
        await claims.ApplyAsync(OwnerTag, [], [], CancellationToken.None, [new("api-" + OwnerTag, "www.example.org")]);
        bool heldAfterWrongReleases = claims.All.Any(c => c.Domain == "www.example.org");
        await claims.ApplyAsync(OwnerTag, [], [], CancellationToken.None, [new("web-" + OwnerTag, "www.example.org")]);

        await Assert.That(heldAfterWrongReleases).IsTrue();
        await Assert.That(claims.All).IsEmpty();
    }
}

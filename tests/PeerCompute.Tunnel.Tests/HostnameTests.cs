using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Tunnel.Tests;

public class HostnameTests
{
    [Test]
    public async Task A_tag_is_twelve_base32_characters_stable_for_a_peer_and_different_between_peers()
    {
        using var a = PeerIdentity.Generate();
        using var b = PeerIdentity.Generate();

        string tag = TunnelHostname.TagFor(a.PeerId);

        await Assert.That(tag.Length).IsEqualTo(TunnelHostname.TagLength);
        await Assert.That(TunnelHostname.IsValidTag(tag)).IsTrue();
        await Assert.That(TunnelHostname.TagFor(PeerId.Parse(a.PeerId.ToString()))).IsEqualTo(tag);
        await Assert.That(TunnelHostname.TagFor(b.PeerId)).IsNotEqualTo(tag);
    }

    [Test]
    public async Task A_known_peer_id_has_a_known_tag()
    {
        // Pins the derivation: changing it would move every public URL.
        using var identity = PeerIdentity.FromSeed(new byte[32]);

        await Assert.That(TunnelHostname.TagFor(identity.PeerId)).IsEqualTo(KnownTag);
    }

    // Computed once from the zero seed; see A_known_peer_id_has_a_known_tag.
    private const string KnownTag = "xtnnhyvtagkh";

    [Test]
    [Arguments("web", true)]
    [Arguments("my-app-2", true)]
    [Arguments("a", true)]
    [Arguments("", false)]
    [Arguments("-web", false)]
    [Arguments("web-", false)]
    [Arguments("we--b", false)]
    [Arguments("Web", false)]
    [Arguments("web.app", false)]
    [Arguments("web_app", false)]
    [Arguments("ünï", false)]
    public async Task Deployment_names_follow_dns_label_rules(string name, bool valid)
    {
        await Assert.That(TunnelHostname.IsValidName(name)).IsEqualTo(valid);
    }

    [Test]
    public async Task A_name_of_fifty_characters_fits_in_a_label_and_fifty_one_does_not()
    {
        await Assert.That(TunnelHostname.IsValidName(new string('a', 50))).IsTrue();
        await Assert.That(TunnelHostname.IsValidName(new string('a', 51))).IsFalse();
        await Assert.That(TunnelHostname.LabelFor(new string('a', 50), "abcdefghijkl").Length).IsEqualTo(63);
    }

    [Test]
    [Arguments("web-abcdefghijkl.pc.localhost", "web-abcdefghijkl")]
    [Arguments("WEB-ABCDEFGHIJKL.PC.LOCALHOST", "web-abcdefghijkl")]
    [Arguments("web-abcdefghijkl.pc.localhost:8443", "web-abcdefghijkl")]
    [Arguments("web-abcdefghijkl.pc.localhost.", "web-abcdefghijkl")]
    [Arguments("my-app-abcdefghijkl.pc.localhost", "my-app-abcdefghijkl")]
    [Arguments("pc.localhost", null)]
    [Arguments("x.web-abcdefghijkl.pc.localhost", null)]
    [Arguments("web-abcdefghijkl.other.localhost", null)]
    [Arguments("web-abcdefghijkl.xpc.localhost", null)]
    [Arguments("web-abcdefghijk1.pc.localhost", null)]
    [Arguments("web.pc.localhost", null)]
    [Arguments("[::1]:443", null)]
    [Arguments("web-abcdefghijkl.pc.localhost:84x3", null)]
    public async Task A_request_host_gives_its_label_only_when_it_is_one_valid_label_below_the_domain(string host, string? expected)
    {
        bool found = TunnelHostname.TryGetLabel(host, "pc.localhost", out string label);

        await Assert.That(found).IsEqualTo(expected is not null);
        if (expected is not null)
            await Assert.That(label).IsEqualTo(expected);
    }

    [Test]
    public async Task Public_urls_omit_the_default_port()
    {
        await Assert.That(TunnelHostname.PublicUrl("web", "abcdefghijkl", "example.org", 443)).IsEqualTo("https://web-abcdefghijkl.example.org/");
        await Assert.That(TunnelHostname.PublicUrl("web", "abcdefghijkl", "example.org", 8443)).IsEqualTo("https://web-abcdefghijkl.example.org:8443/");
    }

    [Test]
    public async Task Key_pins_parse_in_base64_and_hex_and_reject_other_text()
    {
        byte[] hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        string base64 = "sha256//" + Convert.ToBase64String(hash);

        await Assert.That(CertificatePin.Parse(base64).ToString()).IsEqualTo(base64);
        await Assert.That(CertificatePin.Parse(Convert.ToHexString(hash))).IsEqualTo(CertificatePin.Parse(base64));
        await Assert.That(CertificatePin.TryParse("sha256//short", out _)).IsFalse();
        await Assert.That(CertificatePin.TryParse("", out _)).IsFalse();
    }
}

using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Tests;

public class UrlTokenTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private const string Host = "web-abcdefghijkl.pc.example";

    [Test]
    public async Task A_token_opens_only_its_host_for_its_owner_until_it_expires()
    {
        using var owner = PeerIdentity.Generate();
        using var stranger = PeerIdentity.Generate();
        string token = UrlToken.Create(owner, Host, Now.AddHours(2));

        await Assert.That(UrlToken.Verify(token, Host, owner.PeerId, Now)).IsEqualTo(UrlTokenError.None);
        await Assert.That(UrlToken.Verify(token, "WEB-abcdefghijkl.pc.example:8443", owner.PeerId, Now)).IsEqualTo(UrlTokenError.None);
        await Assert.That(UrlToken.Verify(token, Host, owner.PeerId, Now.AddHours(2))).IsEqualTo(UrlTokenError.Expired);
        await Assert.That(UrlToken.Verify(token, "api-abcdefghijkl.pc.example", owner.PeerId, Now)).IsEqualTo(UrlTokenError.BadSignature);
        await Assert.That(UrlToken.Verify(token, Host, stranger.PeerId, Now)).IsEqualTo(UrlTokenError.NotTheOwner);
        await Assert.That(UrlToken.Verify(UrlToken.Create(stranger, Host, Now.AddHours(2)), Host, owner.PeerId, Now)).IsEqualTo(UrlTokenError.NotTheOwner);
    }

    [Test]
    public async Task A_changed_field_breaks_the_signature_and_malformed_text_is_refused()
    {
        using var owner = PeerIdentity.Generate();
        using var stranger = PeerIdentity.Generate();
        string token = UrlToken.Create(owner, Host, Now.AddHours(2));
        var parts = token.Split('.');
        string laterExpiry = string.Join('.', parts[0], (long.Parse(parts[1]) + 3600).ToString(), parts[2], parts[3]);
        string otherSigner = string.Join('.', parts[0], parts[1], stranger.PeerId.ToString(), parts[3]);

        await Assert.That(UrlToken.Verify(laterExpiry, Host, owner.PeerId, Now)).IsEqualTo(UrlTokenError.BadSignature);
        await Assert.That(UrlToken.Verify(otherSigner, Host, owner.PeerId, Now)).IsEqualTo(UrlTokenError.BadSignature);
        foreach (string? bad in new[] { null, "", "v1", "v2." + token[3..], token + ".x", token[..^4], token.Replace("v1.", "v1.-"), new string('a', 600) })
            await Assert.That(UrlToken.Verify(bad, Host, owner.PeerId, Now)).IsEqualTo(UrlTokenError.Malformed).Because(bad ?? "null");
    }

    [Test]
    public async Task A_token_is_safe_as_a_query_value_and_a_cookie_value()
    {
        using var owner = PeerIdentity.Generate();
        string token = UrlToken.Create(owner, Host, Now.AddDays(366));

        await Assert.That(token.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')).IsTrue();
        await Assert.That(Uri.EscapeDataString(token)).IsEqualTo(token);
    }
}

public class PasswordHashTests
{
    [Test]
    public async Task The_right_password_matches_and_every_other_does_not()
    {
        string hash = PasswordHash.Create("s3cret ✓", PasswordHash.MinIterations);

        await Assert.That(PasswordHash.Verify("s3cret ✓", hash)).IsTrue();
        await Assert.That(PasswordHash.Verify("s3cret", hash)).IsFalse();
        await Assert.That(PasswordHash.Verify("", hash)).IsFalse();
        await Assert.That(hash).DoesNotContain("s3cret");
        await Assert.That(hash).StartsWith($"pbkdf2-sha256${PasswordHash.MinIterations}$");
    }

    [Test]
    public async Task Two_hashes_of_one_password_differ_by_their_salt()
    {
        string a = PasswordHash.Create("pw", PasswordHash.MinIterations);
        string b = PasswordHash.Create("pw", PasswordHash.MinIterations);

        await Assert.That(a).IsNotEqualTo(b);
        await Assert.That(PasswordHash.Verify("pw", b)).IsTrue();
    }

    [Test]
    public async Task Hashes_outside_the_bounds_are_refused_with_a_reason()
    {
        string good = PasswordHash.Create("pw", PasswordHash.MinIterations);
        string[] parts = good.Split('$');
        var cases = new[]
        {
            "plain",
            $"md5${parts[1]}${parts[2]}${parts[3]}",
            $"pbkdf2-sha256$1000${parts[2]}${parts[3]}",
            $"pbkdf2-sha256$999999999${parts[2]}${parts[3]}",
            $"pbkdf2-sha256${parts[1]}$!!${parts[3]}",
            $"pbkdf2-sha256${parts[1]}${parts[2]}$AAAA",
        };

        foreach (string bad in cases)
        {
            await Assert.That(PasswordHash.TryParse(bad, out _, out string? problem)).IsFalse().Because(bad);
            await Assert.That(problem).IsNotNull();
            await Assert.That(PasswordHash.Verify("pw", bad)).IsFalse();
        }
    }
}

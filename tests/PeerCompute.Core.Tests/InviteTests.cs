using System.Buffers.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Trust;

namespace PeerCompute.Core.Tests;

public class InviteTests
{
    private const string Relay = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    private static readonly DateTimeOffset Made = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static PeerIdentity Maya() => PeerIdentity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());

    private static Invite Make(PeerIdentity identity, string? name = "maya", TimeSpan? lifetime = null, params string[] addrs) =>
        Invite.Create(identity, name, [.. (addrs.Length == 0 ? ["/ip4/192.0.2.10/tcp/9000", $"/ip4/203.0.113.7/tcp/4001/p2p/{Relay}/p2p-circuit"] : addrs).Select(Multiaddr.Parse)],
            Made, lifetime ?? Invite.DefaultLifetime);

    [Test]
    public async Task Round_trip_keeps_every_field_and_the_text_is_copy_paste_safe()
    {
        using var maya = Maya();
        var invite = Make(maya, addrs: ["/ip4/192.0.2.10/tcp/9000", $"/ip6/2001:db8::1/tcp/9000/p2p/{maya.PeerId}", $"/ip4/203.0.113.7/tcp/4001/p2p/{Relay}/p2p-circuit/p2p/{maya.PeerId}"]);

        await Assert.That(invite.Text).StartsWith("pcinvite1.");
        await Assert.That(invite.Text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')).IsTrue();
        await Assert.That(Invite.TryParse(invite.Text, Made.AddDays(1), out var read, out var problem, out string? reason)).IsTrue().Because(reason ?? "");
        await Assert.That(problem).IsEqualTo(InviteProblem.None);
        await Assert.That(read!.PeerId).IsEqualTo(maya.PeerId);
        await Assert.That(read.Name).IsEqualTo("maya");
        await Assert.That(read.Created).IsEqualTo(Made);
        await Assert.That(read.Expires).IsEqualTo(Made.AddDays(7));
        // The provider's own /p2p is left out; the relay's stays.
        await Assert.That(read.Addresses.Select(a => a.ToString())).IsEquivalentTo(new[]
        {
            "/ip4/192.0.2.10/tcp/9000", "/ip6/2001:db8::1/tcp/9000", $"/ip4/203.0.113.7/tcp/4001/p2p/{Relay}/p2p-circuit",
        });
        await Assert.That(read.Text).IsEqualTo(invite.Text);
    }

    [Test]
    public async Task Without_name_or_addresses_it_is_short()
    {
        using var maya = Maya();
        var invite = Invite.Create(maya, null, [], Made, TimeSpan.FromHours(1));
        await Assert.That(invite.Text.Length).IsLessThan(170);
        await Assert.That(Invite.TryParse(invite.Text, Made, out var read, out _, out _)).IsTrue();
        await Assert.That(read!.Name).IsNull();
        await Assert.That(read.Addresses.Count).IsEqualTo(0);
    }

    [Test]
    public async Task Signing_is_deterministic()
    {
        using var maya = Maya();
        await Assert.That(Make(maya).Text).IsEqualTo(Make(maya).Text);
    }

    [Test]
    public async Task Changing_any_single_character_is_refused()
    {
        using var maya = Maya();
        string text = Make(maya).Text;
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var accepted = new List<int>();
        for (int i = 0; i < text.Length; i++)
        {
            // Two replacements per position: the next letter of the alphabet and one far away.
            foreach (int step in (int[])[1, 32])
            {
                char replacement = text[i] == '.' ? '_' : alphabet[(alphabet.IndexOf(text[i]) + step) % alphabet.Length];
                string tampered = string.Concat(text.AsSpan(0, i), replacement.ToString(), text.AsSpan(i + 1));
                if (Invite.TryParse(tampered, Made, out _, out _, out _))
                    accepted.Add(i);
            }
        }
        await Assert.That(accepted).IsEmpty();
    }

    [Test]
    public async Task Tampering_with_each_region_names_what_broke()
    {
        using var maya = Maya();
        var invite = Make(maya);
        byte[] body = Base64Url.DecodeFromChars(invite.Text.AsSpan("pcinvite1.".Length));
        int signatureAt = body.Length - 64;

        // Layout for this invite: version 0, PeerId length 1 and multihash 2-39, created 40-44, expires 45-49, name
        // length 50 and "maya" 51-54, address count 55, first address length 56 and bytes 57-64, the relayed one after.
        var regions = new (string What, int Offset)[]
        {
            ("version", 0), ("PeerId length", 1), ("PeerId", 10), ("created", 42), ("expires", 47), ("name length", 50), ("name", 52),
            ("address count", 55), ("address length", 56), ("direct address", 60), ("relayed address", signatureAt - 3),
            ("signature", signatureAt + 5), ("signature end", body.Length - 1),
        };
        foreach (var (what, offset) in regions)
        {
            byte[] copy = [.. body];
            copy[offset] ^= 0x01;
            string tampered = "pcinvite1." + Base64Url.EncodeToString(copy);
            bool ok = Invite.TryParse(tampered, Made, out _, out var problem, out string? reason);
            await Assert.That(ok).IsFalse().Because(what);
            await Assert.That(problem is InviteProblem.BadSignature or InviteProblem.Malformed).IsTrue().Because($"{what}: {problem} {reason}");
            await Assert.That(reason).IsNotNull();
        }

        // A byte more, a byte less.
        await Assert.That(Invite.TryParse("pcinvite1." + Base64Url.EncodeToString([.. body, 0]), Made, out _, out var longer, out _)).IsFalse();
        await Assert.That(longer).IsEqualTo(InviteProblem.Malformed);
        await Assert.That(Invite.TryParse("pcinvite1." + Base64Url.EncodeToString(body[..^1]), Made, out _, out var shorter, out _)).IsFalse();
        await Assert.That(shorter is InviteProblem.BadSignature or InviteProblem.Malformed).IsTrue();
    }

    [Test]
    public async Task A_validly_signed_invite_of_another_key_is_refused()
    {
        using var maya = Maya();
        using var mallory = PeerIdentity.Generate();
        byte[] body = Base64Url.DecodeFromChars(Make(maya).Text.AsSpan("pcinvite1.".Length));
        byte[] other = Base64Url.DecodeFromChars(Make(mallory).Text.AsSpan("pcinvite1.".Length));
        // Maya's payload with Mallory's signature.
        byte[] spliced = [.. body[..^64], .. other[^64..]];
        await Assert.That(Invite.TryParse("pcinvite1." + Base64Url.EncodeToString(spliced), Made, out _, out var problem, out string? reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(InviteProblem.BadSignature);
        await Assert.That(reason).Contains("changed after");
    }

    [Test]
    public async Task An_expired_invite_is_refused_with_its_expiry()
    {
        using var maya = Maya();
        var invite = Make(maya, lifetime: TimeSpan.FromHours(2));
        await Assert.That(Invite.TryParse(invite.Text, Made.AddHours(2).AddSeconds(-1), out _, out _, out _)).IsTrue();
        await Assert.That(Invite.TryParse(invite.Text, Made.AddHours(2), out _, out var problem, out string? reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(InviteProblem.Expired);
        await Assert.That(reason).Contains("expired at 2025-06-01 14:00:00 UTC");
        await Assert.That(reason).Contains("maya");
    }

    [Test]
    public async Task Lifetimes_and_names_outside_the_rules_are_not_made()
    {
        using var maya = Maya();
        await Assert.That(() => Make(maya, lifetime: TimeSpan.Zero)).Throws<ArgumentException>();
        await Assert.That(() => Make(maya, lifetime: TimeSpan.FromDays(366))).Throws<ArgumentException>();
        await Assert.That(() => Make(maya, name: "not a name")).Throws<ArgumentException>();
        await Assert.That(() => Make(maya, addrs: [$"/ip4/192.0.2.10/tcp/9000/p2p/{Relay}"])).Throws<ArgumentException>();
        await Assert.That(() => Make(maya, addrs: [$"/ip4/203.0.113.7/tcp/4001/p2p/{maya.PeerId}/p2p-circuit"])).Throws<ArgumentException>();
    }

    [Test]
    public async Task More_than_sixteen_addresses_or_four_KiB_are_refused()
    {
        using var maya = Maya();
        string[] seventeen = [.. Enumerable.Range(1, 17).Select(i => $"/ip4/192.0.2.{i}/tcp/9000")];
        await Assert.That(() => Make(maya, addrs: seventeen)).Throws<ArgumentException>();

        // A payload with 17 addresses, correctly signed, is still refused when read.
        var fields = new InviteFields(maya.PeerId, null, [.. seventeen.Select(Multiaddr.Parse)], Made.ToUnixTimeSeconds(), Made.AddDays(1).ToUnixTimeSeconds());
        string signedSeventeen = Sign(maya, EncodeUnchecked(fields));
        await Assert.That(Invite.TryParse(signedSeventeen, Made, out _, out var problem, out string? reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(InviteProblem.Malformed);
        await Assert.That(reason).Contains("at most 16");

        string huge = "pcinvite1." + new string('A', Invite.MaxTextLength);
        await Assert.That(Invite.TryParse(huge, Made, out _, out problem, out reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(InviteProblem.TooLarge);
        await Assert.That(reason).Contains("4096");

        // Sixteen long relayed addresses do not fit in 4 KiB of text either: refused when made.
        string[] longRelayed = [.. Enumerable.Range(1, 16).Select(i => $"/dns4/{new string('r', 150)}{i}.example/tcp/4001/p2p/{Relay}/p2p-circuit")];
        await Assert.That(() => Make(maya, addrs: longRelayed)).Throws<ArgumentException>();
    }

    [Test]
    [Arguments("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", InviteProblem.NotAnInvite)]
    [Arguments("", InviteProblem.NotAnInvite)]
    [Arguments("pcinvite", InviteProblem.NotAnInvite)]
    [Arguments("pcinvitex.AAAA", InviteProblem.NotAnInvite)]
    [Arguments("pcinvite2.AAAA", InviteProblem.UnsupportedVersion)]
    [Arguments("pcinvite10.AAAA", InviteProblem.UnsupportedVersion)]
    [Arguments("pcinvite1.", InviteProblem.Malformed)]
    [Arguments("pcinvite1.AAAA AAAA", InviteProblem.BadEncoding)]
    [Arguments("pcinvite1.AAAA+/AA", InviteProblem.BadEncoding)]
    [Arguments("pcinvite1.AAAA==", InviteProblem.BadEncoding)]
    [Arguments("pcinvite1.A", InviteProblem.BadEncoding)]
    [Arguments("pcinvite1.AB", InviteProblem.BadEncoding)] // stray low bits: not canonical
    [Arguments("pcinvite1.AAAA", InviteProblem.Malformed)]
    public async Task Wrong_prefix_version_or_encoding_is_refused(string text, InviteProblem expected)
    {
        await Assert.That(Invite.TryParse(text, Made, out _, out var problem, out string? reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(expected).Because(reason ?? "");
        await Assert.That(reason).IsNotNull();
    }

    [Test]
    public async Task The_version_in_the_payload_must_be_one()
    {
        using var maya = Maya();
        var fields = new InviteFields(maya.PeerId, null, [], Made.ToUnixTimeSeconds(), Made.AddDays(1).ToUnixTimeSeconds());
        byte[] payload = Invite.EncodePayload(fields);
        payload[0] = 2;
        await Assert.That(Invite.TryParse(Sign(maya, payload), Made, out _, out var problem, out string? reason)).IsFalse();
        await Assert.That(problem).IsEqualTo(InviteProblem.Malformed);
        await Assert.That(reason).Contains("version 2");
    }

    [Test]
    public async Task Looks_like_invite_tells_invites_from_peer_ids()
    {
        using var maya = Maya();
        await Assert.That(Invite.LooksLikeInvite(Make(maya).Text)).IsTrue();
        await Assert.That(Invite.LooksLikeInvite("pcinvite9.x")).IsTrue();
        await Assert.That(Invite.LooksLikeInvite(maya.PeerId.ToString())).IsFalse();
    }

    private static string Sign(PeerIdentity identity, byte[] payload)
    {
        byte[] signed = [.. Invite.SigningContext, .. payload];
        return "pcinvite1." + Base64Url.EncodeToString([.. payload, .. identity.Sign(signed)]);
    }

    /// <summary>The payload layout without the writer's limits, to hand the reader what a careless signer might make.</summary>
    private static byte[] EncodeUnchecked(InviteFields fields)
    {
        var bytes = new List<byte> { 1 };
        void Bytes(ReadOnlySpan<byte> b)
        {
            bytes.AddRange(Varint.Encode((ulong)b.Length));
            bytes.AddRange(b.ToArray());
        }
        Bytes(fields.PeerId.Multihash);
        bytes.AddRange(Varint.Encode((ulong)fields.Created));
        bytes.AddRange(Varint.Encode((ulong)fields.Expires));
        Bytes(fields.Name is null ? [] : global::System.Text.Encoding.UTF8.GetBytes(fields.Name));
        bytes.Add((byte)fields.Addresses.Count);
        foreach (var a in fields.Addresses)
            Bytes(a.ToBytes());
        return [.. bytes];
    }
}

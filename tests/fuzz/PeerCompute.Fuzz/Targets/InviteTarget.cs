using System.Buffers.Text;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Trust;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// Invites (<c>peerctl peers add pcinvite1.…</c>, pasted from a chat): <see cref="Invite.TryParse"/> answers
/// true or false with a problem and a reason, never throws; an accepted invite is signed by the key its PeerId names,
/// keeps every limit and is its own canonical text. The payload reader alone (reached without a signature) accepts
/// only what it re-encodes byte for byte.
/// Input: byte 0 even = the invite's text (UTF-8), odd = a bare payload.
/// </summary>
public sealed class InviteTarget : FuzzTarget
{
    /// <summary>The seeds' creation time; inputs are read as of one hour later, so the seeds are not expired.</summary>
    private static readonly DateTimeOffset Made = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Made.AddHours(1);
    private const string Relay = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    public override string Name => "invite";
    public override string Description => "Invite.TryParse (pcinvite1. text: prefix, base64url, payload, signature, expiry) and the payload reader";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var body = input[1..];
        if ((input[0] & 1) == 0)
        {
            string text = Encoding.UTF8.GetString(body);
            if (!Invite.TryParse(text, Now, out var invite, out var problem, out string? reason))
            {
                Check(problem != InviteProblem.None && !string.IsNullOrEmpty(reason), "refused without a problem and a reason");
                return;
            }
            Check(problem == InviteProblem.None && reason is null, "accepted with a problem");
            Check(invite.Text == text && text.Length <= Invite.MaxTextLength, "accepted text is not the invite's own");
            Check(invite.Expires > Now && invite.Expires > invite.Created, "accepted an expired invite");
            Check(invite.Addresses.Count <= Invite.MaxAddresses, "accepted too many addresses");
            Check(invite.Name is null || TrustStore.IsValidName(invite.Name), $"accepted the name '{invite.Name}'");
            // The payload is what was signed, and reads back the same.
            byte[] all = Base64Url.DecodeFromChars(text.AsSpan(Invite.CurrentPrefix.Length));
            byte[] payload = all[..^PeerIdentity.SignatureLength];
            Check(PeerIdentity.Verify(invite.PeerId, [.. Invite.SigningContext, .. payload], all[^PeerIdentity.SignatureLength..]), "accepted a signature that does not verify");
            var fields = new InviteFields(invite.PeerId, invite.Name, invite.Addresses, invite.Created.ToUnixTimeSeconds(), invite.Expires.ToUnixTimeSeconds());
            Check(Invite.EncodePayload(fields).AsSpan().SequenceEqual(payload), "accepted a payload that is not canonical");
            return;
        }
        if (!Invite.TryDecodePayload(body, out var decoded, out string? why))
        {
            Check(!string.IsNullOrEmpty(why), "payload refused without a reason");
            return;
        }
        Check(Invite.CheckFields(decoded) is null, $"payload accepted against the rules: {Invite.CheckFields(decoded)}");
        Check(Invite.EncodePayload(decoded).AsSpan().SequenceEqual(body), "payload does not re-encode to the same bytes");
        foreach (var address in decoded.Addresses)
            _ = address.ToString();
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        using var maya = PeerIdentity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        using var sam = PeerIdentity.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray());
        string direct = "/ip4/192.0.2.10/tcp/9000";
        string relayed = $"/ip4/203.0.113.7/tcp/4001/p2p/{Relay}/p2p-circuit";
        var full = Invite.Create(maya, "maya", [Multiaddr.Parse(direct), Multiaddr.Parse("/ip6/2001:db8::1/tcp/9000"), Multiaddr.Parse(relayed)], Made, TimeSpan.FromDays(7));
        var bare = Invite.Create(sam, null, [], Made, TimeSpan.FromHours(2));
        var relayOnly = Invite.Create(maya, "pi.home", [Multiaddr.Parse($"/dns4/gw.example.org/tcp/4001/p2p/{Relay}/p2p-circuit")], Made, TimeSpan.FromDays(1));
        var expired = Invite.Create(sam, "sam", [Multiaddr.Parse(direct)], Made, TimeSpan.FromMinutes(30));
        var sixteen = Invite.Create(maya, "many", [.. Enumerable.Range(1, 16).Select(i => Multiaddr.Parse($"/ip4/192.0.2.{i}/tcp/9000"))], Made, TimeSpan.FromDays(7));

        yield return ("text-full", Text(full.Text));
        yield return ("text-bare", Text(bare.Text));
        yield return ("text-relay-only", Text(relayOnly.Text));
        yield return ("text-sixteen-addresses", Text(sixteen.Text));
        yield return ("text-expired", Text(expired.Text));
        yield return ("text-tampered", Text(full.Text[..^3] + (full.Text[^3] == 'A' ? 'B' : 'A') + full.Text[^2..]));
        yield return ("text-version-2", Text("pcinvite2." + full.Text[Invite.CurrentPrefix.Length..]));
        yield return ("text-padded", Text(full.Text + "=="));
        yield return ("text-peer-id", Text(maya.PeerId.ToString()));

        yield return ("payload-full", [1, .. Payload(full.Text)]);
        yield return ("payload-bare", [1, .. Payload(bare.Text)]);
        yield return ("payload-relay-only", [1, .. Payload(relayOnly.Text)]);
    }

    private static byte[] Text(string text) => [0, .. Encoding.UTF8.GetBytes(text)];

    private static byte[] Payload(string text) => Base64Url.DecodeFromChars(text.AsSpan(Invite.CurrentPrefix.Length))[..^PeerIdentity.SignatureLength];
}

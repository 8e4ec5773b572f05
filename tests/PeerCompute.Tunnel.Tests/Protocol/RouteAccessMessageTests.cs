using System.Buffers;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests;

/// <summary>The access section of SetRoutes (tunnel protocol version 3) and what the provider tells a gateway of each version.</summary>
public class RouteAccessMessageTests
{
    private static byte[] Payload(byte[] frame)
    {
        var status = TunnelFrame.TryRead(frame, TunnelFrame.MaxPayload, out _, out var payload, out int consumed);
        if (status != OperationStatus.Done || consumed != frame.Length)
            throw new InvalidOperationException("not one whole frame");
        return payload.ToArray();
    }

    [Test]
    public async Task Access_rules_round_trip_with_their_labels()
    {
        using var owner = PeerIdentity.Generate();
        string hash = PasswordHash.Create("pw", PasswordHash.MinIterations);
        var sent = new SetRoutes(["a-abcdefghijkl", "b-abcdefghijkl", "c-abcdefghijkl"],
            [RouteAccess.Public, new RouteAccess(AccessMode.Private, owner.PeerId), new RouteAccess(AccessMode.Basic, BasicUser: "maya", BasicPasswordHash: hash)]);

        await Assert.That(SetRoutes.TryParse(Payload(sent.Encode()), out var parsed)).IsTrue();

        await Assert.That(parsed!.AccessAt(0)).IsEqualTo(RouteAccess.Public);
        await Assert.That(parsed.AccessAt(1)).IsEqualTo(new RouteAccess(AccessMode.Private, owner.PeerId));
        await Assert.That(parsed.AccessAt(2)).IsEqualTo(new RouteAccess(AccessMode.Basic, null, "maya", hash));
    }

    [Test]
    public async Task A_message_without_an_access_section_is_all_public_and_a_mismatched_or_unknown_one_is_malformed()
    {
        byte[] old = Payload(new SetRoutes(["a-abcdefghijkl"]).Encode());
        byte[] withAccess = Payload(new SetRoutes(["a-abcdefghijkl"], [new RouteAccess(AccessMode.Private, PeerIdentity.Generate().PeerId)]).Encode());
        byte[] countMismatch = [.. old, 0x00, 0x02];
        byte[] unknownMode = [.. old, 0x00, 0x01, 0x07, 0x00, 0x00, 0x00];

        await Assert.That(SetRoutes.TryParse(old, out var parsed)).IsTrue();
        await Assert.That(parsed!.AccessAt(0)).IsEqualTo(RouteAccess.Public);
        await Assert.That(SetRoutes.TryParse(countMismatch, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse(unknownMode, out _)).IsFalse();
        for (int cut = old.Length + 1; cut < withAccess.Length; cut++)
            await Assert.That(SetRoutes.TryParse(withAccess.AsSpan(0, cut), out _)).IsFalse();
    }

    [Test]
    public async Task Private_and_basic_routes_are_withheld_from_a_gateway_before_version_3_and_sent_with_their_rules_from_it_on()
    {
        using var owner = PeerIdentity.Generate();
        var access = new Dictionary<string, RouteAccess>
        {
            ["priv"] = new(AccessMode.Private, owner.PeerId),
            ["basic"] = new(AccessMode.Basic, BasicUser: "u", BasicPasswordHash: PasswordHash.Create("pw", PasswordHash.MinIterations)),
        };
        string[] routes = ["open", "priv", "basic"];

        var old = RouteAnnouncer.Plan(routes, access, version: 2);
        var current = RouteAnnouncer.Plan(routes, access, TunnelHandshake.AccessControlVersion);
        var allPublic = RouteAnnouncer.Plan(["open"], new Dictionary<string, RouteAccess>(), version: 2);

        await Assert.That(old.Names).IsEquivalentTo(new[] { "open" });
        await Assert.That(old.Withheld).IsEquivalentTo(new[] { "priv", "basic" });
        await Assert.That(old.Access).IsNull();
        await Assert.That(current.Names).IsEquivalentTo(routes);
        await Assert.That(current.Withheld).IsEmpty();
        await Assert.That(current.Access!.Select(a => a.Mode)).IsEquivalentTo(new[] { AccessMode.Public, AccessMode.Private, AccessMode.Basic });
        await Assert.That(allPublic.Names).IsEquivalentTo(new[] { "open" });
    }
}

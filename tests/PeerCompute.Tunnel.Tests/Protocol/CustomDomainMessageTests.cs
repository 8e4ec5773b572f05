using System.Buffers;
using PeerCompute.Core.Access;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests;

/// <summary>The custom-domain section of SetRoutes (tunnel protocol version 4).</summary>
public class CustomDomainMessageTests
{
    private static byte[] Payload(byte[] frame)
    {
        var status = TunnelFrame.TryRead(frame, TunnelFrame.MaxPayload, out _, out var payload, out int consumed);
        if (status != OperationStatus.Done || consumed != frame.Length)
            throw new InvalidOperationException("not one whole frame");
        return payload.ToArray();
    }

    [Test]
    public async Task Domains_round_trip_with_their_labels_and_bring_a_public_access_section_along()
    {
        var sent = new SetRoutes(["a-abcdefghijkl", "b-abcdefghijkl"], null, [["www.example.org", "example.org"], []]);

        await Assert.That(SetRoutes.TryParse(Payload(sent.Encode()), out var parsed)).IsTrue();
        await Assert.That(parsed!.DomainsAt(0)).IsEquivalentTo(["www.example.org", "example.org"]);
        await Assert.That(parsed.DomainsAt(1)).IsEmpty();
        await Assert.That(parsed.AccessAt(0).Mode).IsEqualTo(AccessMode.Public);
    }

    [Test]
    public async Task A_message_without_domains_has_none_and_a_malformed_section_is_refused()
    {
        byte[] withAccess = Payload(new SetRoutes(["a-abcdefghijkl"], [RouteAccess.Public]).Encode());
        byte[] countMismatch = [.. withAccess, 0x00, 0x02];
        byte[] tooMany = [.. withAccess, 0x00, 0x01, (byte)(SetRoutes.MaxDomainsPerLabel + 1)];
        byte[] cutShort = [.. withAccess, 0x00, 0x01, 0x01, 0x05, (byte)'a'];

        await Assert.That(SetRoutes.TryParse(withAccess, out var parsed)).IsTrue();
        await Assert.That(parsed!.DomainsAt(0)).IsEmpty();
        await Assert.That(SetRoutes.TryParse(countMismatch, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse(tooMany, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse(cutShort, out _)).IsFalse();
    }
}

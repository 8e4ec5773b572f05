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

    [Test]
    public async Task Released_domains_round_trip_and_bring_empty_domain_and_access_sections_along()
    {
        var sent = new SetRoutes(["a-abcdefghijkl"], Released: [new ReleasedDomain("old-abcdefghijkl", "www.example.org")]);

        await Assert.That(SetRoutes.TryParse(Payload(sent.Encode()), out var parsed)).IsTrue();
        await Assert.That(parsed!.Released!.Single()).IsEqualTo(new ReleasedDomain("old-abcdefghijkl", "www.example.org"));
        await Assert.That(parsed.DomainsAt(0)).IsEmpty();
        await Assert.That(parsed.AccessAt(0).Mode).IsEqualTo(AccessMode.Public);
    }

    [Test]
    public async Task A_malformed_released_section_is_refused()
    {
        byte[] withDomains = Payload(new SetRoutes(["a-abcdefghijkl"], null, [[]]).Encode());
        byte[] cutShort = [.. withDomains, 0x00, 0x01, 0x03, (byte)'a', (byte)'-', (byte)'b'];
        byte[] tooMany = [.. withDomains, 0x01, 0x01];
        byte[] control = [.. withDomains, 0x00, 0x01, 0x01, 0x07, 0x01, (byte)'x'];

        await Assert.That(SetRoutes.TryParse(withDomains, out var parsed)).IsTrue();
        await Assert.That(parsed!.Released).IsNull();
        await Assert.That(SetRoutes.TryParse(cutShort, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse(tooMany, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse(control, out _)).IsFalse();
    }

    [Test]
    public async Task A_query_and_its_answer_round_trip_and_an_answer_with_an_unknown_state_or_time_is_refused()
    {
        var expires = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        var query = new QueryDomains(["www.example.org", "example.org"]);
        var answer = new DomainStates([
            new PeerCompute.Tunnel.Gateway.DomainStatus("www.example.org", "web-abcdefghijkl", PeerCompute.Tunnel.Gateway.DomainState.Serving, expires, null, "served"),
            PeerCompute.Tunnel.Gateway.DomainStatus.NotHeld("example.org")]);
        byte[] answerPayload = Payload(answer.Encode());
        byte[] badState = [.. answerPayload];
        int stateAt = 2 + 1 + "www.example.org".Length;
        badState[stateAt] = 0x7F;
        byte[] truncated = answerPayload[..^3];

        await Assert.That(QueryDomains.TryParse(Payload(query.Encode()), out var parsedQuery)).IsTrue();
        await Assert.That(parsedQuery!.Domains).IsEquivalentTo(["www.example.org", "example.org"]);
        await Assert.That(DomainStates.TryParse(answerPayload, out var parsedAnswer)).IsTrue();
        await Assert.That(parsedAnswer!.States[0]).IsEqualTo(answer.States[0]);
        await Assert.That(parsedAnswer.States[1].State).IsEqualTo(PeerCompute.Tunnel.Gateway.DomainState.Unknown);
        await Assert.That(parsedAnswer.States[1].Label).IsNull();
        await Assert.That(DomainStates.TryParse(badState, out _)).IsFalse();
        await Assert.That(DomainStates.TryParse(truncated, out _)).IsFalse();
        await Assert.That(QueryDomains.TryParse([0xFF, 0xFF], out _)).IsFalse();
    }
}

using PeerCompute.Core.Multiformats;
using PeerCompute.Net.HolePunch;

namespace PeerCompute.Net.Tests.HolePunch;

/// <summary>DCUtR's HolePunch message: hand-built vectors, round trips and what is refused.</summary>
public class HolePunchMessageTests
{
    [Test]
    public async Task Connect_with_an_address_matches_its_bytes()
    {
        // 08 64 = type CONNECT (100); 12 08 = field 2, the 8-byte multiaddr vector /ip4/192.0.2.42/tcp/443.
        var message = new HolePunchMessage(HolePunchType.Connect, [Multiaddr.Parse("/ip4/192.0.2.42/tcp/443")]);
        await Assert.That(Hex.Of(message.Encode())).IsEqualTo("0864" + "1208" + "04c000022a0601bb");
        await Assert.That(HolePunchMessage.TryDecode(Hex.Bytes("0864120804c000022a0601bb"), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.Type).IsEqualTo(HolePunchType.Connect);
        await Assert.That(decoded.ObservedAddresses.Single().ToString()).IsEqualTo("/ip4/192.0.2.42/tcp/443");
    }

    [Test]
    public async Task Sync_is_type_300_with_no_addresses()
    {
        // 300 = ac 02.
        await Assert.That(Hex.Of(new HolePunchMessage(HolePunchType.Sync, []).Encode())).IsEqualTo("08ac02");
        await Assert.That(HolePunchMessage.TryDecode(Hex.Bytes("08ac02"), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.Type).IsEqualTo(HolePunchType.Sync);
        await Assert.That(decoded.ObservedAddresses).IsEmpty();
    }

    [Test]
    public async Task Round_trips_keep_every_address_in_order()
    {
        var addresses = new[]
        {
            Multiaddr.Parse("/ip4/198.51.100.7/tcp/51000"),
            Multiaddr.Parse("/ip6/2001:db8::1/tcp/9000"),
            Multiaddr.Parse("/ip4/198.51.100.7/tcp/51000/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"),
        };
        var message = new HolePunchMessage(HolePunchType.Connect, addresses);
        await Assert.That(HolePunchMessage.TryDecode(message.Encode(), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.ObservedAddresses.SequenceEqual(addresses)).IsTrue();
        await Assert.That(Hex.Of(decoded.Encode())).IsEqualTo(Hex.Of(message.Encode()));
    }

    [Test]
    [Arguments("", "no type")]
    [Arguments("120804c000022a0601bb", "no type")]
    [Arguments("0801", "unknown message type 1")]
    [Arguments("08c801", "unknown message type 200")]
    [Arguments("0a0164", "wire type")]
    [Arguments("086412", "truncated")]
    public async Task Malformed_messages_are_refused_with_a_reason(string hex, string reason)
    {
        await Assert.That(HolePunchMessage.TryDecode(Hex.Bytes(hex), out var message, out string? error)).IsFalse();
        await Assert.That(message).IsNull();
        await Assert.That(error).Contains(reason);
    }

    [Test]
    public async Task Undecodable_addresses_and_unknown_fields_are_skipped()
    {
        // 12 02 04c0: a truncated ip4; 1a 01 ff: unknown field 3.
        await Assert.That(HolePunchMessage.TryDecode(Hex.Bytes("08ac02" + "120204c0" + "1a01ff" + "120804c000022a0601bb"), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.ObservedAddresses.Single().ToString()).IsEqualTo("/ip4/192.0.2.42/tcp/443");
    }

    [Test]
    public async Task Messages_over_4096_bytes_are_refused()
    {
        // 08 64, then unknown field 3 (tag 1a) with a 2-byte length: 4096 = 2 + 1 + 2 + 4091 (fb 1f).
        byte[] atLimit = [0x08, 0x64, 0x1a, 0xfb, 0x1f, .. new byte[4091]];
        await Assert.That(atLimit.Length).IsEqualTo(HolePunchMessage.MaxSize);
        await Assert.That(HolePunchMessage.TryDecode(atLimit, out _, out _)).IsTrue();
        byte[] over = [0x08, 0x64, 0x1a, 0xfc, 0x1f, .. new byte[4092]];
        await Assert.That(HolePunchMessage.TryDecode(over, out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("over 4096");
        await Assert.That(HolePunchMessage.ProtocolId).IsEqualTo("/libp2p/dcutr");
    }
}

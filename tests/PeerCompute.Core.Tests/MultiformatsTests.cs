using System.Buffers;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Core.Tests;

public class VarintTests
{
    [Test]
    [Arguments(1UL, "01")]
    [Arguments(127UL, "7f")]
    [Arguments(128UL, "8001")]
    [Arguments(300UL, "ac02")]
    [Arguments(16384UL, "808001")]
    public async Task Encodes_the_spec_vectors(ulong value, string hex)
    {
        await Assert.That(Hex.Of(Varint.Encode(value))).IsEqualTo(hex);
        var status = Varint.TryRead(Hex.Bytes(hex), out ulong read, out int consumed);
        await Assert.That(status).IsEqualTo(OperationStatus.Done);
        await Assert.That(read).IsEqualTo(value);
        await Assert.That(consumed).IsEqualTo(hex.Length / 2);
    }

    [Test]
    public async Task Non_minimal_encoding_is_invalid()
    {
        await Assert.That(Varint.TryRead(Hex.Bytes("8100"), out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task More_than_nine_bytes_is_invalid()
    {
        await Assert.That(Varint.TryRead(Hex.Bytes("80808080808080808001"), out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task A_truncated_varint_needs_more_data()
    {
        await Assert.That(Varint.TryRead(Hex.Bytes("8080"), out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
    }
}

public class MultiaddrTests
{
    [Test]
    public async Task Ip4_tcp_matches_the_vector()
    {
        var ma = Multiaddr.Parse("/ip4/192.0.2.42/tcp/443");
        await Assert.That(Hex.Of(ma.ToBytes())).IsEqualTo("04c000022a0601bb");
        await Assert.That(Multiaddr.FromBytes(Hex.Bytes("04c000022a0601bb")).ToString()).IsEqualTo("/ip4/192.0.2.42/tcp/443");
    }

    [Test]
    [Arguments("/ip6/::1/tcp/9000")]
    [Arguments("/dns4/example.com/tcp/443")]
    [Arguments("/dns6/example.com/tcp/443")]
    [Arguments("/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")]
    public async Task Text_and_binary_forms_round_trip(string text)
    {
        var ma = Multiaddr.Parse(text);
        await Assert.That(ma.ToString()).IsEqualTo(text);
        await Assert.That(Multiaddr.FromBytes(ma.ToBytes()).ToString()).IsEqualTo(text);
    }

    [Test]
    public async Task The_p2p_component_names_the_peer()
    {
        var ma = Multiaddr.Parse("/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
        await Assert.That(ma.PeerId!.ToString()).IsEqualTo("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
        await Assert.That(ma.WithoutPeerId().ToString()).IsEqualTo("/ip4/127.0.0.1/tcp/9000");
        await Assert.That(ma.TryGetTcpTarget(out string host, out int port)).IsTrue();
        await Assert.That(host).IsEqualTo("127.0.0.1");
        await Assert.That(port).IsEqualTo(9000);
    }

    [Test]
    [Arguments("")]
    [Arguments("ip4/1.2.3.4")]
    [Arguments("/ip4/1.2.3/tcp/1")]
    [Arguments("/ip4/1.2.3.4/tcp/70000")]
    [Arguments("/ip4/1.2.3.4/tcp")]
    [Arguments("/quic/1")]
    [Arguments("/ip4/1.2.3.4/tcp/1/p2p/notapeer")]
    [Arguments("/ip6/1.2.3.4/tcp/1")]
    [Arguments("/dns4/bad name/tcp/1")]
    public async Task Malformed_text_is_refused_with_a_reason(string text)
    {
        await Assert.That(Multiaddr.TryParse(text, out _, out string? error)).IsFalse();
        await Assert.That(error).IsNotNull();
    }

    [Test]
    [Arguments("04c00002")]            // truncated ip4
    [Arguments("ff7f")]                 // unknown code
    [Arguments("36ff01")]               // dns4 length beyond the input
    [Arguments("a50303000000")]         // p2p value that is no multihash
    public async Task Malformed_binary_is_refused(string hex)
    {
        await Assert.That(Multiaddr.TryDecode(Hex.Bytes(hex), out _, out _)).IsFalse();
    }
}

public class RelayedMultiaddrTests
{
    // The addressing spec's example of a circuit address through a specific relay.
    private const string SpecRelay = "QmdPU7PfRyKehdrP5A3WqmjyD6bhVpU1mLGKppa2FjGDjZ";
    private const string SpecTarget = "QmVT6GYwjeeAF5TR485Yc58S3xRF5EFsZ5YAF4VcP3URHt";
    private const string SpecExample = $"/ip4/127.0.0.1/tcp/5002/p2p/{SpecRelay}/p2p-circuit/p2p/{SpecTarget}";

    private const string Relay = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";   // the first vector key
    private const string Target = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";  // seed 01×32

    // Built by hand, component by component:
    //   04 01020304          ip4 (code 4) 1.2.3.4
    //   06 0fa1              tcp (code 6) 4001 = 0x0fa1
    //   a503 26 0024…        p2p (code 421 = 0x1a5 → a5 03), length 38 = 0x26, identity multihash 00 24 ‖ 08 01 12 20 ‖ key
    //   a202                 p2p-circuit (code 290 = 0x122 → low 7 bits 0x22 | 0x80 = a2, then 290 >> 7 = 02), no value
    //   a503 26 0024…        p2p, the target
    // Cross-check: the two 32-byte keys are the public keys of the wire vectors (1ed1e8…27e of the first key, 8a88e3…f5c
    // of seed 01×32, whose base58 ids are Relay and Target), and the sizes add up to (1+4) + (1+2) + (2+1+38) + 2 + (2+1+38) = 92 bytes.
    private const string RelayedHex =
        "04" + "01020304" + "06" + "0fa1"
        + "a503" + "26" + "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
        + "a202"
        + "a503" + "26" + "0024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    [Test]
    public async Task The_spec_example_parses_prints_and_round_trips()
    {
        var address = Multiaddr.Parse(SpecExample);
        await Assert.That(address.ToString()).IsEqualTo(SpecExample);
        await Assert.That(Multiaddr.FromBytes(address.ToBytes()).ToString()).IsEqualTo(SpecExample);
        await Assert.That(address.Components.Count).IsEqualTo(5);
        await Assert.That(address.Components[3].Protocol).IsEqualTo(MultiaddrProtocol.P2pCircuit);
        await Assert.That(address.Components[3].Value.Length).IsEqualTo(0);
        await Assert.That(address.Components[3].ToString()).IsEqualTo("/p2p-circuit");
        await Assert.That(address.IsRelayed).IsTrue();
        // PeerId stays "the last /p2p/": for a relayed address, the target.
        await Assert.That(address.PeerId!.ToString()).IsEqualTo(SpecTarget);
    }

    [Test]
    public async Task The_hand_built_binary_vector_matches_both_ways()
    {
        string text = $"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit/p2p/{Target}";
        await Assert.That(RelayedHex.Length / 2).IsEqualTo(92);
        await Assert.That(Hex.Of(Multiaddr.Parse(text).ToBytes())).IsEqualTo(RelayedHex);
        await Assert.That(Multiaddr.FromBytes(Hex.Bytes(RelayedHex)).ToString()).IsEqualTo(text);
        await Assert.That(Hex.Of(Multiaddr.Parse("/p2p-circuit").ToBytes())).IsEqualTo("a202");
    }

    [Test]
    public async Task TryGetRelay_splits_relay_address_relay_and_target()
    {
        var address = Multiaddr.Parse($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit/p2p/{Target}");
        await Assert.That(address.TryGetRelay(out var relayAddress, out var relayId, out var target)).IsTrue();
        await Assert.That(relayAddress!.ToString()).IsEqualTo($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}");
        await Assert.That(relayId).IsEqualTo(PeerId.Parse(Relay));
        await Assert.That(target).IsEqualTo(PeerId.Parse(Target));

        var listen = Multiaddr.Parse($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit");
        await Assert.That(listen.TryGetRelay(out relayAddress, out relayId, out target)).IsTrue();
        await Assert.That(relayAddress!.ToString()).IsEqualTo($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}");
        await Assert.That(relayId).IsEqualTo(PeerId.Parse(Relay));
        await Assert.That(target).IsNull();
        // With no target, the last /p2p/ is the relay's.
        await Assert.That(listen.PeerId).IsEqualTo(PeerId.Parse(Relay));
    }

    [Test]
    [Arguments("/ip4/1.2.3.4/tcp/4001")]                                      // not relayed
    [Arguments($"/p2p-circuit/p2p/{Target}")]                                  // no relay named
    [Arguments($"/ip4/1.2.3.4/tcp/4001/p2p-circuit/p2p/{Target}")]             // relay without its /p2p/
    [Arguments($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit/ip4/1.2.3.4")]  // something else after the circuit
    [Arguments($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit/p2p/{Target}/p2p-circuit")] // two hops
    public async Task TryGetRelay_refuses_what_is_not_one_relay_and_a_target(string text)
    {
        await Assert.That(Multiaddr.Parse(text).TryGetRelay(out _, out _, out _)).IsFalse();
    }

    [Test]
    public async Task A_relayed_address_has_no_tcp_target_and_plain_ones_keep_theirs()
    {
        await Assert.That(Multiaddr.Parse(SpecExample).TryGetTcpTarget(out _, out _)).IsFalse();
        await Assert.That(Multiaddr.Parse($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}/p2p-circuit").TryGetTcpTarget(out _, out _)).IsFalse();
        await Assert.That(Multiaddr.Parse($"/ip4/1.2.3.4/tcp/4001/p2p/{Relay}").TryGetTcpTarget(out string host, out int port)).IsTrue();
        await Assert.That((host, port)).IsEqualTo(("1.2.3.4", 4001));
        await Assert.That(Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001").IsRelayed).IsFalse();
    }

    [Test]
    public async Task P2p_circuit_text_forms_and_a_value_after_it()
    {
        // A trailing slash is tolerated as before; the component after p2p-circuit is parsed as a protocol name.
        await Assert.That(Multiaddr.Parse("/p2p-circuit/").ToString()).IsEqualTo("/p2p-circuit");
        await Assert.That(Multiaddr.TryParse("/p2p-circuit/1.2.3.4", out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("unknown protocol");
    }
}

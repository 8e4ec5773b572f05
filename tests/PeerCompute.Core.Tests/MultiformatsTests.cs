using System.Buffers;
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

using CsCheck;
using PeerCompute.Core.Identity;
using PeerCompute.Net.Dns;
using PeerCompute.Net.Mdns;
using PeerCompute.Net.Tests.Dns;

namespace PeerCompute.Net.Tests.Mdns;

/// <summary>mDNS's records without sockets: the announcement we build, and what a received packet tells us.</summary>
public class MdnsRecordsTests
{
    private const string JsQueryHex = DnsPackets.JsQueryHex;
    private static readonly PeerId Peer = PeerId.Parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");

    [Test]
    public async Task Js_query_parses_as_a_service_query()
    {
        var message = DnsMessage.Parse(Convert.FromHexString(JsQueryHex));
        await Assert.That(message.IsResponse).IsFalse();
        await Assert.That(message.Questions.Count).IsEqualTo(1);
        await Assert.That(message.Questions[0].Name).IsEqualTo("_p2p._udp.local");
        await Assert.That(message.Questions[0].Type).IsEqualTo(DnsRecordType.Ptr);
        await Assert.That(MdnsRecords.IsServiceQuery(message)).IsTrue();
    }


    [Test]
    public async Task Unicast_bit_is_masked_from_the_question_class()
    {
        byte[] query = Convert.FromHexString(JsQueryHex);
        query[^2] = 0x80;
        var message = DnsMessage.Parse(query);
        await Assert.That(message.Questions.Count).IsEqualTo(1);
        await Assert.That(message.Questions[0].UnicastResponse).IsTrue();
    }


    [Test]
    public async Task Response_round_trips_and_announces_the_peer()
    {
        string[] addrs = ["/ip4/192.0.2.42/tcp/443/p2p/" + Peer, "/ip6/2001:db8::1/tcp/4001/p2p/" + Peer];
        byte[] packet = MdnsRecords.Response(MdnsServiceOptions.ServiceName, "abcdefghijklmnopqrstuvwxyz012345._p2p._udp.local",
            [.. addrs.Select(a => "dnsaddr=" + a)], 120, 9000);
        var message = DnsMessage.Parse(packet);
        await Assert.That(message.IsResponse).IsTrue();
        await Assert.That(message.Answers.Count).IsEqualTo(3);
        await Assert.That(message.Answers[0].Type).IsEqualTo(DnsRecordType.Ptr);
        await Assert.That(message.Answers[0].Target).IsEqualTo("abcdefghijklmnopqrstuvwxyz012345._p2p._udp.local");
        await Assert.That(message.Answers.All(r => r.Ttl == 120)).IsTrue();
        // No compression in what we send: no byte with the top two bits set starts a label.
        await Assert.That(packet.Contains((byte)0xC0)).IsFalse();

        var peers = MdnsRecords.PeersIn(message, self: null, ownName: null, maxAddresses: 16);
        await Assert.That(peers.Count).IsEqualTo(1);
        await Assert.That(peers[0].Peer).IsEqualTo(Peer);
        await Assert.That(peers[0].Addresses.Select(a => a.ToString())).IsEquivalentTo(addrs);

        // Our own answers come back through multicast loopback: ignored by instance name and by PeerId.
        await Assert.That(MdnsRecords.PeersIn(message, null, "abcdefghijklmnopqrstuvwxyz012345", 16).Count).IsEqualTo(0);
        await Assert.That(MdnsRecords.PeersIn(message, Peer, null, 16).Count).IsEqualTo(0);
    }


    [Test]
    public async Task Compressed_response_with_cache_flush_bits_and_extra_records_is_read()
    {
        // What other implementations send: compressed names, cache-flush bit on TXT, SRV and A records too.
        var b = new List<byte>(DnsPackets.Header(an: 4, flags: 0x8400));
        b.AddRange(DnsPackets.Labels("_p2p._udp.local"));
        byte[] target = [.. DnsPackets.Labels("peername")[..^1], 0xC0, 12];
        DnsPackets.Record(b, DnsRecordType.Ptr, 1, target);
        int instance = b.Count - target.Length;
        byte[] txt = [.. DnsPackets.Txt("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/" + Peer), .. DnsPackets.Txt("unrelated=1")];
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        DnsPackets.Record(b, DnsRecordType.Txt, 0x8001, txt);
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        DnsPackets.Record(b, DnsRecordType.Srv, 0x8001, [0, 0, 0, 0, 0, 1, 0]);
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        DnsPackets.Record(b, DnsRecordType.A, 1, [10, 0, 0, 1]);
        var message = DnsMessage.Parse([.. b]);
        await Assert.That(message.Answers.Count).IsEqualTo(4);
        await Assert.That(message.Answers[0].Target).IsEqualTo("peername._p2p._udp.local");
        var peers = MdnsRecords.PeersIn(message, null, null, 16);
        await Assert.That(peers.Count).IsEqualTo(1);
        await Assert.That(peers[0].Addresses.Single().ToString()).IsEqualTo("/ip4/10.0.0.1/tcp/1/p2p/" + Peer);
    }


    [Test]
    public async Task Records_of_other_classes_are_skipped()
    {
        var b = new List<byte>(DnsPackets.Header(an: 1, flags: 0x8400));
        b.AddRange(DnsPackets.Labels("_p2p._udp.local"));
        DnsPackets.Record(b, DnsRecordType.Ptr, 3 /* CH */, DnsPackets.Labels("x._p2p._udp.local"));
        var message = MdnsRecords.Parse([.. b]);
        await Assert.That(message.Answers.Count).IsEqualTo(0);
    }


    [Test]
    public async Task A_multiaddr_without_p2p_or_unparsable_is_dropped()
    {
        byte[] packet = MdnsRecords.Response(MdnsServiceOptions.ServiceName, "n._p2p._udp.local",
            ["dnsaddr=/ip4/10.0.0.1/tcp/1", "dnsaddr=/nonsense/1", "dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/" + Peer], 120, 9000);
        var peers = MdnsRecords.PeersIn(DnsMessage.Parse(packet), null, null, 16);
        await Assert.That(peers.Single().Addresses.Single().ToString()).IsEqualTo("/ip4/10.0.0.2/tcp/2/p2p/" + Peer);
    }


    [Test]
    public void Mutated_responses_parse_or_fail_cleanly()
    {
        byte[] response = MdnsRecords.Response(MdnsServiceOptions.ServiceName, "n._p2p._udp.local",
            ["dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/" + Peer], 120, 9000);
        Gen.Select(Gen.Int[0, response.Length - 1], Gen.Byte, Gen.Int[0, response.Length]).Sample((index, value, cut) =>
        {
            var copy = (byte[])response.Clone();
            copy[index] = value;
            if (DnsMessage.TryParse(copy.AsSpan(0, cut), out var message, out _))
                MdnsRecords.PeersIn(message!, null, null, 16);
        }, iter: 20_000);
    }


    [Test]
    public async Task Random_peer_names_are_lower_case_alphanumeric_32_to_63()
    {
        for (int i = 0; i < 200; i++)
        {
            string name = MdnsService.RandomPeerName();
            await Assert.That(name.Length is >= 32 and <= 63).IsTrue();
            await Assert.That(name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9')).IsTrue();
        }
    }
}

using System.Buffers.Binary;
using CsCheck;
using PeerCompute.Core.Identity;
using PeerCompute.Net.Dns;
using PeerCompute.Net.Mdns;

namespace PeerCompute.Net.Tests.Dns;

public class DnsMessageTests
{
    private const string JsQueryHex = "000000000001000000000000" + "045f703270" + "045f756470" + "056c6f63616c" + "00" + "000c" + "0001";
    private static readonly PeerId Peer = PeerId.Parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");

    [Test]
    public async Task Our_query_is_byte_for_byte_js_query()
    {
        byte[] query = DnsMessageWriter.Query(MdnsServiceOptions.ServiceName);
        await Assert.That(Convert.ToHexStringLower(query)).IsEqualTo(JsQueryHex);
        await Assert.That(query.Length).IsEqualTo(33);
    }

    [Test]
    public async Task Js_query_parses_as_a_service_query()
    {
        var message = DnsMessage.Parse(Convert.FromHexString(JsQueryHex));
        await Assert.That(message.IsResponse).IsFalse();
        await Assert.That(message.Questions.Count).IsEqualTo(1);
        await Assert.That(message.Questions[0].Name).IsEqualTo("_p2p._udp.local");
        await Assert.That(message.Questions[0].Type).IsEqualTo(DnsRecordType.Ptr);
        await Assert.That(MdnsService.IsServiceQuery(message)).IsTrue();
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
        byte[] packet = DnsMessageWriter.Response(MdnsServiceOptions.ServiceName, "abcdefghijklmnopqrstuvwxyz012345._p2p._udp.local",
            [.. addrs.Select(a => "dnsaddr=" + a)], 120, 9000);
        var message = DnsMessage.Parse(packet);
        await Assert.That(message.IsResponse).IsTrue();
        await Assert.That(message.Answers.Count).IsEqualTo(3);
        await Assert.That(message.Answers[0].Type).IsEqualTo(DnsRecordType.Ptr);
        await Assert.That(message.Answers[0].Target).IsEqualTo("abcdefghijklmnopqrstuvwxyz012345._p2p._udp.local");
        await Assert.That(message.Answers.All(r => r.Ttl == 120)).IsTrue();
        // No compression in what we send: no byte with the top two bits set starts a label.
        await Assert.That(packet.Contains((byte)0xC0)).IsFalse();

        var peers = MdnsService.PeersIn(message, self: null, ownName: null, maxAddresses: 16);
        await Assert.That(peers.Count).IsEqualTo(1);
        await Assert.That(peers[0].Peer).IsEqualTo(Peer);
        await Assert.That(peers[0].Addresses.Select(a => a.ToString())).IsEquivalentTo(addrs);

        // Our own answers come back through multicast loopback: ignored by instance name and by PeerId.
        await Assert.That(MdnsService.PeersIn(message, null, "abcdefghijklmnopqrstuvwxyz012345", 16).Count).IsEqualTo(0);
        await Assert.That(MdnsService.PeersIn(message, Peer, null, 16).Count).IsEqualTo(0);
    }

    [Test]
    public async Task Compressed_response_with_cache_flush_bits_and_extra_records_is_read()
    {
        // What other implementations send: compressed names, cache-flush bit on TXT, SRV and A records too.
        var b = new List<byte>(Header(an: 4, flags: 0x8400));
        b.AddRange(Labels("_p2p._udp.local"));
        byte[] target = [.. Labels("peername")[..^1], 0xC0, 12];
        Record(b, DnsRecordType.Ptr, 1, target);
        int instance = b.Count - target.Length;
        byte[] txt = [.. Txt("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/" + Peer), .. Txt("unrelated=1")];
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        Record(b, DnsRecordType.Txt, 0x8001, txt);
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        Record(b, DnsRecordType.Srv, 0x8001, [0, 0, 0, 0, 0, 1, 0]);
        b.AddRange(new byte[] { 0xC0, (byte)instance });
        Record(b, DnsRecordType.A, 1, [10, 0, 0, 1]);
        var message = DnsMessage.Parse([.. b]);
        await Assert.That(message.Answers.Count).IsEqualTo(4);
        await Assert.That(message.Answers[0].Target).IsEqualTo("peername._p2p._udp.local");
        var peers = MdnsService.PeersIn(message, null, null, 16);
        await Assert.That(peers.Count).IsEqualTo(1);
        await Assert.That(peers[0].Addresses.Single().ToString()).IsEqualTo("/ip4/10.0.0.1/tcp/1/p2p/" + Peer);
    }

    [Test]
    public async Task Records_of_other_classes_are_skipped()
    {
        var b = new List<byte>(Header(an: 1, flags: 0x8400));
        b.AddRange(Labels("_p2p._udp.local"));
        Record(b, DnsRecordType.Ptr, 3 /* CH */, Labels("x._p2p._udp.local"));
        var message = DnsMessage.Parse([.. b]);
        await Assert.That(message.Answers.Count).IsEqualTo(0);
    }

    [Test]
    public async Task A_multiaddr_without_p2p_or_unparsable_is_dropped()
    {
        byte[] packet = DnsMessageWriter.Response(MdnsServiceOptions.ServiceName, "n._p2p._udp.local",
            ["dnsaddr=/ip4/10.0.0.1/tcp/1", "dnsaddr=/nonsense/1", "dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/" + Peer], 120, 9000);
        var peers = MdnsService.PeersIn(DnsMessage.Parse(packet), null, null, 16);
        await Assert.That(peers.Single().Addresses.Single().ToString()).IsEqualTo("/ip4/10.0.0.2/tcp/2/p2p/" + Peer);
    }

    [Test]
    public async Task Hostile_packets_are_rejected_with_a_reason()
    {
        List<(string What, byte[] Packet)> cases = [];
        byte[] query = Convert.FromHexString(JsQueryHex);
        for (int n = 0; n < query.Length; n++)
            cases.Add(($"truncated to {n}", query[..n]));

        // A name that is a pointer to itself, and two pointers pointing at each other.
        var self = Header(qd: 1).Concat(new byte[] { 0xC0, 12, 0, 12, 0, 1 }).ToArray();
        cases.Add(("self pointer", self));
        var loop = Header(qd: 2).Concat(new byte[] { 0xC0, 18, 0, 12, 0, 1, 0xC0, 12, 0, 12, 0, 1 }).ToArray();
        cases.Add(("forward pointer / loop", loop));
        var outOfRange = Header(qd: 1).Concat(new byte[] { 0xFF, 0xFF, 0, 12, 0, 1 }).ToArray();
        cases.Add(("pointer out of range", outOfRange));
        cases.Add(("huge counts", Header(qd: 0xFFFF, an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF)));
        cases.Add(("counts the packet cannot hold", Header(qd: 0, an: 3).Concat(new byte[20]).ToArray()));
        cases.Add(("extended label type", Header(qd: 1).Concat(new byte[] { 0x41, 0, 0, 12, 0, 1 }).ToArray()));
        cases.Add(("over the size limit", new byte[9001]));
        var longName = new List<byte>(Header(qd: 1));
        for (int i = 0; i < 5; i++) { longName.Add(63); longName.AddRange(new byte[63]); }
        longName.AddRange(new byte[] { 0, 0, 12, 0, 1 });
        cases.Add(("name over 255 bytes", [.. longName]));
        var txtOverrun = Header(an: 1).Concat(new byte[] { 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 0x41 }).ToArray();
        cases.Add(("TXT string past its record", txtOverrun));
        var rdataOverrun = Header(an: 1).Concat(new byte[] { 0, 0, 16, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1, 0x41 }).ToArray();
        cases.Add(("record data past the packet", rdataOverrun));

        foreach (var (what, packet) in cases)
        {
            bool ok = DnsMessage.TryParse(packet, out var message, out string? error);
            await Assert.That(ok).IsFalse().Because(what);
            await Assert.That(message).IsNull();
            await Assert.That(string.IsNullOrEmpty(error)).IsFalse();
        }
    }

    [Test]
    public async Task Pointer_chains_are_bounded()
    {
        // Answer 1 (an unknown type, kept raw) carries 20 links "a" + pointer-to-previous; answer 2 is a PTR to the last link.
        var chain = new List<byte>();
        const int chainStart = 12 + 1 + 10;
        int previous = -1;
        for (int i = 0; i < 20; i++)
        {
            int at = chainStart + chain.Count;
            chain.Add(1);
            chain.Add((byte)'a');
            if (previous < 0) chain.Add(0);
            else chain.AddRange(new byte[] { 0xC0, (byte)previous });
            previous = at;
        }
        var b = new List<byte>(Header(an: 2, flags: 0x8400));
        b.Add(0);
        Record(b, (DnsRecordType)99, 1, [.. chain]);
        b.Add(0);
        Record(b, DnsRecordType.Ptr, 1, [0xC0, (byte)previous]);
        byte[] packet = [.. b];

        await Assert.That(DnsMessage.TryParse(packet, out _, out string? error)).IsFalse();
        await Assert.That(error!).Contains("pointers");
        var message = DnsMessage.Parse(packet, new DnsLimits { MaxPointerJumps = 32 });
        await Assert.That(message.Answers[1].Target).IsEqualTo(string.Join('.', Enumerable.Repeat("a", 20)));
    }

    [Test]
    public void Random_bytes_parse_or_fail_cleanly()
    {
        var gen = Gen.Byte.Array[0, 600];
        gen.Sample(bytes =>
        {
            DnsMessage.TryParse(bytes, out _, out _);
        }, iter: 20_000);
    }

    [Test]
    public void Mutated_responses_parse_or_fail_cleanly()
    {
        byte[] response = DnsMessageWriter.Response(MdnsServiceOptions.ServiceName, "n._p2p._udp.local",
            ["dnsaddr=/ip4/10.0.0.2/tcp/2/p2p/" + Peer], 120, 9000);
        Gen.Select(Gen.Int[0, response.Length - 1], Gen.Byte, Gen.Int[0, response.Length]).Sample((index, value, cut) =>
        {
            var copy = (byte[])response.Clone();
            copy[index] = value;
            if (DnsMessage.TryParse(copy.AsSpan(0, cut), out var message, out _))
                MdnsService.PeersIn(message!, null, null, 16);
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

    private static byte[] Labels(string name)
    {
        var result = new List<byte>();
        foreach (string label in name.Split('.'))
        {
            result.Add((byte)label.Length);
            result.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        result.Add(0);
        return [.. result];
    }

    private static byte[] Txt(string text) => [(byte)text.Length, .. System.Text.Encoding.ASCII.GetBytes(text)];

    private static void Record(List<byte> packet, DnsRecordType type, int cls, byte[] data)
    {
        var fixedPart = new byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(2), (ushort)cls);
        BinaryPrimitives.WriteUInt32BigEndian(fixedPart.AsSpan(4), 120);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(8), (ushort)data.Length);
        packet.AddRange(fixedPart);
        packet.AddRange(data);
    }

    private static byte[] Header(int qd = 0, int an = 0, int ns = 0, int ar = 0, int flags = 0)
    {
        var h = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)qd);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)an);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(8), (ushort)ns);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), (ushort)ar);
        return h;
    }
}

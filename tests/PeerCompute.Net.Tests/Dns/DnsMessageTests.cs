using CsCheck;
using PeerCompute.Net.Dns;
using PeerCompute.Net.Mdns;

namespace PeerCompute.Net.Tests.Dns;

/// <summary>The DNS codec on its own: what we write, what we read, and what we refuse.</summary>
public class DnsMessageTests
{
    private const string JsQueryHex = DnsPackets.JsQueryHex;

    [Test]
    public async Task Our_query_is_byte_for_byte_js_query()
    {
        byte[] query = DnsMessageWriter.Query(MdnsServiceOptions.ServiceName);
        await Assert.That(Convert.ToHexStringLower(query)).IsEqualTo(JsQueryHex);
        await Assert.That(query.Length).IsEqualTo(33);
    }


    [Test]
    public async Task Hostile_packets_are_rejected_with_a_reason()
    {
        List<(string What, byte[] Packet)> cases = [];
        byte[] query = Convert.FromHexString(JsQueryHex);
        for (int n = 0; n < query.Length; n++)
            cases.Add(($"truncated to {n}", query[..n]));

        // A name that is a pointer to itself, and two pointers pointing at each other.
        var self = DnsPackets.Header(qd: 1).Concat(new byte[] { 0xC0, 12, 0, 12, 0, 1 }).ToArray();
        cases.Add(("self pointer", self));
        var loop = DnsPackets.Header(qd: 2).Concat(new byte[] { 0xC0, 18, 0, 12, 0, 1, 0xC0, 12, 0, 12, 0, 1 }).ToArray();
        cases.Add(("forward pointer / loop", loop));
        var outOfRange = DnsPackets.Header(qd: 1).Concat(new byte[] { 0xFF, 0xFF, 0, 12, 0, 1 }).ToArray();
        cases.Add(("pointer out of range", outOfRange));
        cases.Add(("huge counts", DnsPackets.Header(qd: 0xFFFF, an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF)));
        cases.Add(("counts the packet cannot hold", DnsPackets.Header(qd: 0, an: 3).Concat(new byte[20]).ToArray()));
        cases.Add(("extended label type", DnsPackets.Header(qd: 1).Concat(new byte[] { 0x41, 0, 0, 12, 0, 1 }).ToArray()));
        cases.Add(("over the size limit", new byte[9001]));
        var longName = new List<byte>(DnsPackets.Header(qd: 1));
        for (int i = 0; i < 5; i++) { longName.Add(63); longName.AddRange(new byte[63]); }
        longName.AddRange(new byte[] { 0, 0, 12, 0, 1 });
        cases.Add(("name over 255 bytes", [.. longName]));
        var txtOverrun = DnsPackets.Header(an: 1).Concat(new byte[] { 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 0x41 }).ToArray();
        cases.Add(("TXT string past its record", txtOverrun));
        var rdataOverrun = DnsPackets.Header(an: 1).Concat(new byte[] { 0, 0, 16, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1, 0x41 }).ToArray();
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
        var b = new List<byte>(DnsPackets.Header(an: 2, flags: 0x8400));
        b.Add(0);
        DnsPackets.Record(b, (DnsRecordType)99, 1, [.. chain]);
        b.Add(0);
        DnsPackets.Record(b, DnsRecordType.Ptr, 1, [0xC0, (byte)previous]);
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

}

using System.Buffers.Binary;
using System.Net;
using CsCheck;
using PeerCompute.Net.Dns;

namespace PeerCompute.Net.Tests.Dns;

/// <summary>The authoritative answers for a zone, bytes in and bytes out (no sockets).</summary>
public class DnsResponderTests
{
    private static readonly IPAddress V4 = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress V6 = IPAddress.Parse("2001:db8::10");

    internal static DnsZone Zone(DnsTxtRecords? txt = null, params IPAddress[] addresses) =>
        new("example.org", addresses.Length == 0 ? [V4, V6] : addresses, txt);

    internal static byte[] Query(string name, DnsRecordType type, ushort id = 0x1234, ushort flags = DnsMessage.RecursionDesiredFlag, ushort? edns = null, ushort cls = DnsClass.In)
    {
        var writer = new DnsMessageWriter();
        writer.AddQuestion(name, type, cls);
        if (edns is ushort size)
            writer.AddOpt(size);
        return writer.ToArray(id, flags);
    }

    private static DnsMessage Ask(DnsZone zone, byte[] query, bool tcp = false)
    {
        byte[]? response = DnsResponder.Respond(query, zone, tcp);
        return DnsMessage.Parse(response!);
    }

    private static DnsResponseCode Code(DnsMessage m) => (DnsResponseCode)m.ResponseCode;

    [Test]
    public async Task Every_name_in_the_zone_has_the_public_addresses_and_the_question_is_echoed_as_asked()
    {
        var zone = Zone();
        foreach (string name in new[] { "example.org", "web-abc123.example.org", "a.b.c.Example.ORG", "WwW.ExAmPlE.oRg" })
        {
            var a = Ask(zone, Query(name, DnsRecordType.A));
            await Assert.That(Code(a)).IsEqualTo(DnsResponseCode.NoError);
            await Assert.That(a.Id).IsEqualTo((ushort)0x1234);
            await Assert.That((a.Flags & DnsMessage.AuthoritativeFlag) != 0).IsTrue();
            await Assert.That((a.Flags & DnsMessage.RecursionAvailableFlag) != 0).IsFalse();
            await Assert.That((a.Flags & DnsMessage.RecursionDesiredFlag) != 0).IsTrue();
            // Resolvers that randomise the case of their questions (0x20) check the echo byte for byte.
            await Assert.That(a.Questions.Single().Name).IsEqualTo(name);
            await Assert.That(a.Answers.Single().Name).IsEqualTo(name);
            await Assert.That(new IPAddress(a.Answers.Single().Data.Span)).IsEqualTo(V4);

            var aaaa = Ask(zone, Query(name, DnsRecordType.Aaaa));
            await Assert.That(new IPAddress(aaaa.Answers.Single().Data.Span)).IsEqualTo(V6);
            await Assert.That(aaaa.Answers.Single().Type).IsEqualTo(DnsRecordType.Aaaa);
        }
    }

    [Test]
    public async Task A_type_the_name_lacks_is_nodata_with_the_soa()
    {
        var zone = Zone(null, V4);
        foreach (var type in new[] { DnsRecordType.Aaaa, DnsRecordType.Txt, (DnsRecordType)15 /* MX */ })
        {
            var m = Ask(zone, Query("web.example.org", type));
            await Assert.That(Code(m)).IsEqualTo(DnsResponseCode.NoError);
            await Assert.That(m.Answers).IsEmpty();
            await Assert.That(m.Authorities.Single().Type).IsEqualTo(DnsRecordType.Soa);
            await Assert.That(m.Authorities.Single().Ttl).IsEqualTo(DnsZone.NegativeTtl);
        }
    }

    [Test]
    public async Task Both_challenge_values_are_served_at_once_and_go_away_when_removed()
    {
        var txt = new DnsTxtRecords();
        var zone = Zone(txt);
        var none = Ask(zone, Query("_acme-challenge.example.org", DnsRecordType.Txt));
        await Assert.That(Code(none)).IsEqualTo(DnsResponseCode.NameError);
        await Assert.That(none.Authorities.Single().Type).IsEqualTo(DnsRecordType.Soa);

        txt.Add("_acme-challenge.example.org", "apex-value");
        txt.Add("_ACME-challenge.example.org.", "wildcard-value");
        txt.Add("_acme-challenge.example.org", "wildcard-value");
        var both = Ask(zone, Query("_Acme-Challenge.example.org", DnsRecordType.Txt));
        await Assert.That(Code(both)).IsEqualTo(DnsResponseCode.NoError);
        await Assert.That(both.Answers.Select(r => r.Strings.Single()).Order()).IsEquivalentTo(new[] { "apex-value", "wildcard-value" });
        await Assert.That(both.Answers.All(r => r.Ttl == zone.TxtTtl)).IsTrue();
        // The name exists, but has no address: NODATA, not the zone's addresses.
        var address = Ask(zone, Query("_acme-challenge.example.org", DnsRecordType.A));
        await Assert.That(Code(address)).IsEqualTo(DnsResponseCode.NoError);
        await Assert.That(address.Answers).IsEmpty();

        txt.Remove("_acme-challenge.example.org", "apex-value");
        var one = Ask(zone, Query("_acme-challenge.example.org", DnsRecordType.Txt));
        await Assert.That(one.Answers.Single().Strings.Single()).IsEqualTo("wildcard-value");
        txt.Remove("_acme-challenge.example.org", "wildcard-value");
        await Assert.That(Code(Ask(zone, Query("_acme-challenge.example.org", DnsRecordType.Txt)))).IsEqualTo(DnsResponseCode.NameError);
    }

    [Test]
    public async Task The_txt_store_keeps_to_its_bounds()
    {
        var txt = new DnsTxtRecords();
        for (int i = 0; i < DnsTxtRecords.MaxValuesPerName; i++)
            txt.Add("_acme-challenge.example.org", $"v{i}");
        await Assert.That(() => txt.Add("_acme-challenge.example.org", "one more")).Throws<InvalidOperationException>();
        await Assert.That(() => txt.Add("_acme-challenge.example.org", new string('x', 256))).Throws<ArgumentException>();
        await Assert.That(() => txt.Add("", "v")).Throws<ArgumentException>();
        for (int i = 1; i < DnsTxtRecords.MaxNames; i++)
            txt.Add($"_n{i}.example.org", "v");
        await Assert.That(() => txt.Add("_too-many.example.org", "v")).Throws<InvalidOperationException>();
        // A value already there is not a new one: adding it again is fine even when full.
        txt.Add("_acme-challenge.example.org", "v0");
        await Assert.That(txt.Get("_acme-challenge.example.org").Count).IsEqualTo(DnsTxtRecords.MaxValuesPerName);
    }

    [Test]
    public async Task An_empty_non_terminal_above_a_record_is_nodata_not_nxdomain()
    {
        var txt = new DnsTxtRecords();
        txt.Add("_acme-challenge._x.example.org", "v");
        var m = Ask(Zone(txt), Query("_x.example.org", DnsRecordType.Txt));
        await Assert.That(Code(m)).IsEqualTo(DnsResponseCode.NoError);
        await Assert.That(m.Answers).IsEmpty();
        await Assert.That(Code(Ask(Zone(txt), Query("_y.example.org", DnsRecordType.Txt)))).IsEqualTo(DnsResponseCode.NameError);
    }

    [Test]
    public async Task The_apex_has_soa_and_ns_with_glue()
    {
        var zone = Zone();
        var soa = Ask(zone, Query("example.org", DnsRecordType.Soa));
        var record = soa.Answers.Single();
        await Assert.That(record.Type).IsEqualTo(DnsRecordType.Soa);
        byte[] expected = DnsMessageWriter.SoaData("ns.example.org", "hostmaster.example.org", zone.Serial, 3600, 600, 1_209_600, DnsZone.NegativeTtl);
        await Assert.That(record.Data.ToArray()).IsEquivalentTo(expected);

        var ns = Ask(zone, Query("example.org", DnsRecordType.Ns));
        await Assert.That(ns.Answers.Single().Data.ToArray()).IsEquivalentTo(DnsMessageWriter.EncodeName("ns.example.org"));
        await Assert.That(ns.Additionals.Select(r => r.Type)).IsEquivalentTo(new[] { DnsRecordType.A, DnsRecordType.Aaaa });
        await Assert.That(ns.Additionals.All(r => r.Name == "ns.example.org")).IsTrue();
        // Below the apex there is no SOA or NS (the zone delegates nothing).
        var below = Ask(zone, Query("web.example.org", DnsRecordType.Ns));
        await Assert.That(below.Answers).IsEmpty();
        await Assert.That(below.Authorities.Single().Type).IsEqualTo(DnsRecordType.Soa);
    }

    [Test]
    public async Task Names_outside_the_zone_are_refused_and_never_resolved()
    {
        var zone = Zone();
        foreach (string name in new[] { "example.com", "org", "badexample.org", "example.org.evil.net", "" })
        {
            var m = Ask(zone, Query(name, DnsRecordType.A));
            await Assert.That(Code(m)).IsEqualTo(DnsResponseCode.Refused).Because(name);
            await Assert.That(m.Answers).IsEmpty();
            await Assert.That((m.Flags & (DnsMessage.AuthoritativeFlag | DnsMessage.RecursionAvailableFlag)) == 0).IsTrue();
            await Assert.That(m.Questions.Single().Name).IsEqualTo(name);
        }
    }

    [Test]
    public async Task Malformed_and_unsupported_queries_get_formerr_notimp_or_nothing()
    {
        var zone = Zone();
        byte[] good = Query("web.example.org", DnsRecordType.A, id: 7);

        // Too short for an id, or itself a response: nothing to answer.
        await Assert.That(DnsResponder.Respond(good[..11], zone, tcp: false)).IsNull();
        byte[] response = [.. good];
        response[2] |= 0x80;
        await Assert.That(DnsResponder.Respond(response, zone, tcp: false)).IsNull();

        var cases = new List<(string What, byte[] Query, DnsResponseCode Expected)>
        {
            ("truncated question", good[..^3], DnsResponseCode.FormatError),
            ("no question", new DnsMessageWriter().ToArray(7, 0), DnsResponseCode.FormatError),
            ("two questions", TwoQuestions(), DnsResponseCode.FormatError),
            ("compressed question name", [.. good[..12], 0xC0, 12, 0, 1, 0, 1], DnsResponseCode.FormatError),
            ("opcode STATUS", WithFlags(good, 2 << 11), DnsResponseCode.NotImplemented),
            ("zone transfer", Query("example.org", DnsRecordType.Axfr, id: 7), DnsResponseCode.NotImplemented),
            ("class CHAOS", Query("example.org", DnsRecordType.Txt, id: 7, cls: 3), DnsResponseCode.Refused),
            ("OPT as question type", Query("example.org", DnsRecordType.Opt, id: 7), DnsResponseCode.FormatError),
            ("two OPT records", TwoOpts(), DnsResponseCode.FormatError),
        };
        foreach (var (what, query, expected) in cases)
        {
            var m = DnsMessage.Parse(DnsResponder.Respond(query, zone, tcp: false)!);
            await Assert.That(Code(m)).IsEqualTo(expected).Because(what);
            await Assert.That(m.Id).IsEqualTo((ushort)7).Because(what);
            await Assert.That(m.IsResponse).IsTrue();
            await Assert.That(m.Answers).IsEmpty();
        }

        static byte[] TwoQuestions()
        {
            var w = new DnsMessageWriter();
            w.AddQuestion("a.example.org", DnsRecordType.A, DnsClass.In);
            w.AddQuestion("b.example.org", DnsRecordType.A, DnsClass.In);
            return w.ToArray(7, 0);
        }

        static byte[] TwoOpts()
        {
            var w = new DnsMessageWriter();
            w.AddQuestion("a.example.org", DnsRecordType.A, DnsClass.In);
            w.AddOpt(1232);
            w.AddOpt(1232);
            return w.ToArray(7, 0);
        }

        static byte[] WithFlags(byte[] query, int flags)
        {
            byte[] copy = [.. query];
            BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(2), (ushort)flags);
            return copy;
        }
    }

    [Test]
    public async Task An_unknown_edns_version_gets_badvers_in_the_opt_record()
    {
        byte[] query = Query("example.org", DnsRecordType.A, edns: 1232);
        query[^5] = 1; // the OPT record's version byte (TTL's second byte)
        var m = Ask(Zone(), query);
        var opt = m.Additionals.Single();
        await Assert.That(opt.Type).IsEqualTo(DnsRecordType.Opt);
        await Assert.That(m.ResponseCode).IsEqualTo(0);
        await Assert.That(opt.Ttl >> 24).IsEqualTo(1u); // 1 << 4 | 0 = 16, BADVERS
    }

    [Test]
    public async Task Answers_over_the_udp_size_are_truncated_and_tcp_gets_them_whole()
    {
        var txt = new DnsTxtRecords();
        for (int i = 0; i < DnsTxtRecords.MaxValuesPerName; i++)
            txt.Add("_acme-challenge.example.org", new string((char)('a' + i), 250));
        var zone = Zone(txt);
        const string name = "_acme-challenge.example.org";

        byte[] plain = DnsResponder.Respond(Query(name, DnsRecordType.Txt), zone, tcp: false)!;
        await Assert.That(plain.Length).IsLessThanOrEqualTo(512);
        var m = DnsMessage.Parse(plain);
        await Assert.That((m.Flags & DnsMessage.TruncatedFlag) != 0).IsTrue();
        await Assert.That(m.Questions.Single().Name).IsEqualTo(name);
        await Assert.That(m.Answers).IsEmpty();

        // EDNS asks for more; the server never sends more than 1232 bytes over UDP, however much is asked for.
        byte[] edns = DnsResponder.Respond(Query(name, DnsRecordType.Txt, edns: 65000), zone, tcp: false)!;
        await Assert.That(edns.Length).IsLessThanOrEqualTo(DnsResponder.EdnsUdpBytes);
        await Assert.That((DnsMessage.Parse(edns).Flags & DnsMessage.TruncatedFlag) != 0).IsTrue();
        await Assert.That(DnsMessage.Parse(edns).Additionals.Single().Type).IsEqualTo(DnsRecordType.Opt);

        var whole = Ask(zone, Query(name, DnsRecordType.Txt), tcp: true);
        await Assert.That((whole.Flags & DnsMessage.TruncatedFlag) != 0).IsFalse();
        await Assert.That(whole.Answers.Count).IsEqualTo(DnsTxtRecords.MaxValuesPerName);

        // Four values fit in an EDNS answer of 1232 bytes, not in 512.
        var four = new DnsTxtRecords();
        for (int i = 0; i < 4; i++)
            four.Add(name, new string((char)('a' + i), 250));
        var fits = DnsMessage.Parse(DnsResponder.Respond(Query(name, DnsRecordType.Txt, edns: 1232), Zone(four), tcp: false)!);
        await Assert.That(fits.Answers.Count).IsEqualTo(4);
        var small = DnsMessage.Parse(DnsResponder.Respond(Query(name, DnsRecordType.Txt, edns: 100), Zone(four), tcp: false)!);
        await Assert.That((small.Flags & DnsMessage.TruncatedFlag) != 0).IsTrue();
    }

    [Test]
    public async Task Random_queries_never_throw_and_never_exceed_the_limit()
    {
        var txt = new DnsTxtRecords();
        txt.Add("_acme-challenge.example.org", new string('x', 200));
        var zone = Zone(txt);
        byte[] seed = Query("_acme-challenge.example.org", DnsRecordType.Txt, edns: 4096);
        // Mutations of a valid query reach deeper than random bytes alone.
        Gen.Select(Gen.Int[0, seed.Length - 1], Gen.Byte, Gen.Int[0, seed.Length], Gen.Bool).Array[1, 8].Sample(mutations =>
        {
            byte[] q = [.. seed];
            foreach (var (at, value, cut, doCut) in mutations)
            {
                if (q.Length == 0)
                    break;
                q[at % q.Length] = value;
                if (doCut)
                    q = q[..Math.Min(cut, q.Length)];
            }
            byte[]? udp = DnsResponder.Respond(q, zone, tcp: false);
            if (udp is not null && udp.Length > DnsResponder.EdnsUdpBytes)
                throw new InvalidOperationException($"{udp.Length}-byte UDP response");
            if (udp is not null && !DnsMessage.TryParse(udp, out _, out string? error))
                throw new InvalidOperationException($"unparseable response: {error}");
            _ = DnsResponder.Respond(q, zone, tcp: true, maxBytes: 600);
        }, iter: 20_000);
        await Assert.That(zone.Txt.Get("_acme-challenge.example.org").Count).IsEqualTo(1);
    }
}

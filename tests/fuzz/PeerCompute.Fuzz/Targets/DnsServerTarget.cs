using System.Buffers.Binary;
using System.Net;
using PeerCompute.Net.Dns;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The gateway's authoritative DNS answers (<see cref="DnsResponder.Respond"/>) to any query: never throws; answers
/// every query that has an id and is not itself a response; the answer parses, echoes the id, never offers recursion,
/// and is never larger than the transport allows (512 bytes over UDP, the EDNS size up to 1232, the TCP cap).
/// Input: one query as received over UDP.
/// </summary>
public sealed class DnsServerTarget : FuzzTarget
{
    private const int TcpLimit = 700;
    private static readonly DnsZone Zone = MakeZone();

    public override string Name => "dns-server";
    public override string Description => "DnsResponder.Respond: the gateway's authoritative answers to malformed queries";

    private static DnsZone MakeZone()
    {
        var txt = new DnsTxtRecords();
        txt.Add("_acme-challenge.example.org", new string('a', 43));
        txt.Add("_acme-challenge.example.org", new string('b', 43));
        for (int i = 0; i < DnsTxtRecords.MaxValuesPerName; i++)
            txt.Add("_acme-challenge.big.example.org", new string((char)('c' + i), 255));
        return new DnsZone("example.org", [IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1")], txt);
    }

    public override void Run(ReadOnlySpan<byte> input)
    {
        foreach (bool tcp in (ReadOnlySpan<bool>)[false, true])
        {
            byte[]? response = DnsResponder.Respond(input, Zone, tcp, TcpLimit);
            bool due = input.Length >= 12 && (input[2] & 0x80) == 0;
            Check(due == response is not null, due ? "a query got no answer" : "a response or a runt was answered");
            if (response is null)
                continue;
            Check(response.Length <= (tcp ? TcpLimit : DnsResponder.EdnsUdpBytes), $"{response.Length}-byte response over the limit");
            if (!DnsMessage.TryParse(response, out var message, out string? error))
                Fail($"our response does not parse: {error}");
            Check(message!.Id == BinaryPrimitives.ReadUInt16BigEndian(input), "the id was not echoed");
            Check(message.IsResponse && (message.Flags & DnsMessage.RecursionAvailableFlag) == 0, "QR unset or RA set");
            Check(message.Questions.Count <= 1, "more than one question in a response");
            bool edns = message.Additionals.Any(r => r.Type == DnsRecordType.Opt);
            Check(tcp || edns || response.Length <= DnsMessage.ClassicUdpBytes, "over 512 bytes over UDP without EDNS");
            if ((DnsResponseCode)message.ResponseCode is DnsResponseCode.Refused or DnsResponseCode.FormatError or DnsResponseCode.NotImplemented)
                Check(message.Answers.Count == 0 && (message.Flags & DnsMessage.AuthoritativeFlag) == 0, "an error response with answers or AA");
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("a", Query("web-abc.example.org", DnsRecordType.A, null));
        yield return ("aaaa-edns", Query("Web.Example.org", DnsRecordType.Aaaa, 1232));
        yield return ("txt-challenge", Query("_acme-challenge.example.org", DnsRecordType.Txt, null));
        yield return ("txt-truncated", Query("_acme-challenge.big.example.org", DnsRecordType.Txt, 4096));
        yield return ("soa", Query("example.org", DnsRecordType.Soa, null));
        yield return ("ns", Query("example.org", DnsRecordType.Ns, 512));
        yield return ("any", Query("example.org", DnsRecordType.Any, 1232));
        yield return ("refused", Query("example.com", DnsRecordType.A, null));
        yield return ("nxdomain", Query("_x.example.org", DnsRecordType.Txt, null));
        yield return ("axfr", Query("example.org", DnsRecordType.Axfr, null));
        yield return ("pointer-question", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1]);
    }

    private static byte[] Query(string name, DnsRecordType type, ushort? edns)
    {
        var writer = new DnsMessageWriter();
        writer.AddQuestion(name, type, DnsClass.In);
        if (edns is ushort size)
            writer.AddOpt(size);
        return writer.ToArray(0xBEEF, DnsMessage.RecursionDesiredFlag);
    }
}

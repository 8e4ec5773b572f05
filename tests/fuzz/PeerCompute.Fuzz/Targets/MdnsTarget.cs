using PeerCompute.Core.Identity;
using PeerCompute.Net.Dns;
using PeerCompute.Net.Mdns;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// mDNS packets: <see cref="DnsMessage.Parse"/> throws only <see cref="DnsFormatException"/> (TryParse never throws),
/// keeps to its limits, and what discovery then does with a parsed packet (MdnsRecords: IsServiceQuery, PeersIn) never throws and
/// keeps to its address limit. Input: one UDP payload.
/// </summary>
public sealed class MdnsTarget : FuzzTarget
{
    private static readonly PeerId Self = PeerId.Parse("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");

    public override string Name => "mdns";
    public override string Description => "DnsMessage.Parse and MdnsRecords.PeersIn/IsServiceQuery";

    public override void Run(ReadOnlySpan<byte> input)
    {
        DnsMessage message;
        try
        {
            message = DnsMessage.Parse(input);
        }
        catch (DnsFormatException)
        {
            Check(!DnsMessage.TryParse(input, out _, out string? error) && error is not null, "TryParse disagrees with Parse");
            return;
        }
        var limits = DnsLimits.Default;
        Check(message.Questions.Count <= limits.MaxQuestions, "over the question limit");
        Check(message.Answers.Count + message.Authorities.Count + message.Additionals.Count <= limits.MaxRecords, "over the record limit");
        foreach (var r in message.Answers.Concat(message.Authorities).Concat(message.Additionals))
        {
            Check(r.Name is not null && r.Strings is not null && r.Strings.Count <= limits.MaxTxtStrings && r.Name.Length <= 255 * 3, "a record breaks a limit");
            // The codec reads typed data for class IN only; other classes keep their raw bytes.
            Check(r.Type != DnsRecordType.Ptr || DnsClass.Code(r.Class) != DnsClass.In || r.Target is not null, "an IN PTR without target");
        }
        message = MdnsRecords.InternetClassOnly(message);
        _ = MdnsRecords.IsServiceQuery(message);
        foreach (var (peer, addresses) in MdnsRecords.PeersIn(message, Self, "self", 4))
        {
            Check(peer != Self, "our own announcement came back as a peer");
            Check(addresses.Count is > 0 and <= 4 && addresses.All(a => a.PeerId == peer), "addresses break the limit or name another peer");
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        const string peer = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
        yield return ("query", DnsMessageWriter.Query(MdnsServiceOptions.ServiceName));
        yield return ("response", MdnsRecords.Response(MdnsServiceOptions.ServiceName, "abcdef." + MdnsServiceOptions.ServiceName,
            [$"dnsaddr=/ip4/192.0.2.1/tcp/9000/p2p/{peer}", $"dnsaddr=/ip6/::1/tcp/9000/p2p/{peer}"], 120, 9000));
        yield return ("response-self", MdnsRecords.Response(MdnsServiceOptions.ServiceName, "self." + MdnsServiceOptions.ServiceName,
            [$"dnsaddr=/ip4/192.0.2.1/tcp/9000/p2p/{Self}"], 120, 9000));
        // A response whose TXT owner name is a compression pointer back to the PTR target.
        var r = MdnsRecords.Response(MdnsServiceOptions.ServiceName, "x." + MdnsServiceOptions.ServiceName, [$"dnsaddr=/dns4/a.example/tcp/1/p2p/{peer}"], 120, 9000);
        yield return ("response-compressed", [.. r[..12], .. r[12..]]);
        yield return ("pointer-loop", [0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 12, 0, 1]);
        yield return ("counts-lie", [0, 0, 0x84, 0, 0, 0, 0, 200, 0, 0, 0, 0]);
    }
}

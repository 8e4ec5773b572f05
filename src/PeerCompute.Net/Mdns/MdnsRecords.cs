using System.Net;
using System.Net.Sockets;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Dns;

namespace PeerCompute.Net.Mdns;

/// <summary>
/// The records of libp2p mDNS (src/PeerCompute.Net/README.md, "mDNS"), pure: the query and the announcement we send, what a
/// received packet says (is it a query for us, which peers does it announce) and mDNS's reading of the class's top bit.
/// No sockets here; <see cref="MdnsService"/> moves the packets.
/// </summary>
internal static class MdnsRecords
{
    /// <summary>The class's top bit: "unicast response wanted" in a question, "cache flush" in a record (RFC 6762 §5.4, §10.2).</summary>
    private const ushort ClassFlag = 0x8000;

    extension(DnsQuestion question)
    {
        /// <summary>The asker would take a unicast answer (the QU bit).</summary>
        public bool UnicastResponse => (question.Class & ClassFlag) != 0;
    }

    extension(DnsRecord record)
    {
        /// <summary>The record replaces what a cache holds for its name and type.</summary>
        public bool CacheFlush => (record.Class & ClassFlag) != 0;
    }

    /// <summary>Our query: one PTR question for <c>_p2p._udp.local</c>, byte for byte js's.</summary>
    public static byte[] Query() => DnsMessageWriter.Query(MdnsServiceOptions.ServiceName);

    /// <summary>
    /// A response: <c>service PTR instance</c> then one TXT record per string, all owned by the instance, in Answers.
    /// Strings that do not fit a TXT string (255 bytes) or the size cap are left out.
    /// </summary>
    public static byte[] Response(string service, string instance, IReadOnlyList<string> txt, uint ttl, int maxBytes)
    {
        var writer = new DnsMessageWriter();
        var target = DnsMessageWriter.EncodeName(instance);
        writer.AddRecord(DnsSection.Answer, DnsMessageWriter.EncodeName(service), DnsRecordType.Ptr, DnsClass.In, ttl, target);
        foreach (string s in txt)
        {
            byte[] text = Encoding.UTF8.GetBytes(s);
            if (text.Length > 255)
                continue;
            if (writer.Length + DnsMessageWriter.RecordLength(target.Length, 1 + text.Length) > maxBytes)
                break;
            writer.AddRecord(DnsSection.Answer, target, DnsRecordType.Txt, DnsClass.In, ttl, [(byte)text.Length, .. text]);
        }
        return writer.ToArray(id: 0, flags: DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag);
    }

    /// <summary>The TXT strings that announce <paramref name="peer"/> at <paramref name="addresses"/> (wildcards expanded).</summary>
    public static List<string> AnnouncementTxt(IReadOnlyList<Multiaddr> addresses, PeerId peer, Func<AddressFamily, IEnumerable<IPAddress>> interfaceAddresses) =>
        [.. ConcreteAddresses(addresses, interfaceAddresses)
            .Select(a => $"dnsaddr={a.WithoutPeerId().WithPeerId(peer)}")
            .Distinct(StringComparer.Ordinal)];

    /// <summary>Parses a packet as mDNS reads it: only class IN questions and records are kept (the top bit aside).</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out DnsMessage? message, out string? error, DnsLimits? limits = null)
    {
        if (!DnsMessage.TryParse(packet, out message, out error, limits))
            return false;
        message = InternetClassOnly(message!);
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>; throws <see cref="DnsFormatException"/>.</summary>
    public static DnsMessage Parse(ReadOnlySpan<byte> packet, DnsLimits? limits = null) => InternetClassOnly(DnsMessage.Parse(packet, limits));

    /// <summary>Questions and records of other classes than IN are ignored by mDNS.</summary>
    public static DnsMessage InternetClassOnly(DnsMessage message) => message with
    {
        Questions = [.. message.Questions.Where(q => DnsClass.Code(q.Class) == DnsClass.In)],
        Answers = InternetClassOnly(message.Answers),
        Authorities = InternetClassOnly(message.Authorities),
        Additionals = InternetClassOnly(message.Additionals),
    };

    /// <summary>The peers a response announces (src/PeerCompute.Net/README.md, "mDNS"), excluding <paramref name="self"/> and our own instance name.</summary>
    public static List<(PeerId Peer, List<Multiaddr> Addresses)> PeersIn(DnsMessage message, PeerId? self, string? ownName, int maxAddresses)
    {
        var result = new List<(PeerId, List<Multiaddr>)>();
        if (!message.IsResponse)
            return result;
        IEnumerable<DnsRecord> records = [.. message.Answers, .. message.Additionals];
        var instances = records
            .Where(r => r.Type == DnsRecordType.Ptr && r.Target is not null && NameEquals(r.Name, MdnsServiceOptions.ServiceName))
            .Select(r => r.Target!)
            .Where(t => ownName is null || !NameEquals(t, ownName + "." + MdnsServiceOptions.ServiceName))
            .Distinct(StringComparer.OrdinalIgnoreCase);
        foreach (string instance in instances)
        {
            PeerId? peer = null;
            var addresses = new List<Multiaddr>();
            foreach (var txt in records.Where(r => r.Type == DnsRecordType.Txt && NameEquals(r.Name, instance)))
            {
                foreach (string s in txt.Strings)
                {
                    if (!s.StartsWith("dnsaddr=", StringComparison.Ordinal)
                        || !Multiaddr.TryParse(s["dnsaddr=".Length..], out var address, out _)
                        || address.PeerId is not { } id)
                        continue;
                    // One instance is one peer: the first /p2p id names it, addresses claiming another are dropped.
                    peer ??= id;
                    if (id == peer && addresses.Count < maxAddresses && !addresses.Contains(address))
                        addresses.Add(address);
                }
            }
            if (peer is not null && peer != self && addresses.Count > 0)
                result.Add((peer, addresses));
        }
        return result;
    }

    public static bool IsServiceQuery(DnsMessage message) =>
        !message.IsResponse && message.Questions.Any(q =>
            q.Type is DnsRecordType.Ptr or DnsRecordType.Any && NameEquals(q.Name, MdnsServiceOptions.ServiceName));

    private static List<DnsRecord> InternetClassOnly(IReadOnlyList<DnsRecord> records) =>
        [.. records.Where(r => DnsClass.Code(r.Class) == DnsClass.In)];

    private static bool NameEquals(string a, string b) =>
        string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

    /// <summary>Never announce 0.0.0.0 or ::: a wildcard becomes each interface address of its family.</summary>
    private static IEnumerable<Multiaddr> ConcreteAddresses(IReadOnlyList<Multiaddr> addresses, Func<AddressFamily, IEnumerable<IPAddress>> interfaceAddresses)
    {
        foreach (var address in addresses)
        {
            var components = address.Components;
            if (components.Count > 0 && components[0].Protocol is MultiaddrProtocol.Ip4 or MultiaddrProtocol.Ip6
                && IPAddress.TryParse(components[0].ValueText, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
            {
                foreach (var local in interfaceAddresses(ip.AddressFamily))
                {
                    var rest = components.Skip(1).ToArray();
                    var first = Multiaddr.FromEndPoint(new IPEndPoint(local, 0)).Components[0];
                    yield return Multiaddr.Create([first, .. rest]);
                }
            }
            else
            {
                yield return address;
            }
        }
    }
}

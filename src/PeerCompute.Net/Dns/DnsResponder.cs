using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Net.Dns;

/// <summary>
/// Answers one unicast query for a <see cref="DnsZone"/>, as its authoritative server: pure (bytes in, bytes out), no
/// sockets, so the fuzz target and the tests drive exactly what the server sends. Never recursion (RA is never set),
/// REFUSED outside the zone, FORMERR for a malformed query, NOTIMP for an operation or meta type it does not do,
/// NXDOMAIN/NODATA with the SOA for negative caching, and a response never larger than the transport allows (a
/// truncated one, TC set, holds the question alone).
/// </summary>
internal static class DnsResponder
{
    /// <summary>What the server itself offers over UDP with EDNS: the size that avoids IP fragmentation (DNS flag day 2020).</summary>
    public const ushort EdnsUdpBytes = 1232;

    /// <summary>Queries carry one question and, at most, an OPT and a signature: anything larger is not a query we answer.</summary>
    public const int MaxQueryBytes = 1024;

    private static readonly DnsLimits QueryLimits = new() { MaxMessageBytes = MaxQueryBytes, MaxQuestions = 4, MaxRecords = 8, MaxTxtStrings = 16 };

    /// <summary>
    /// The response to <paramref name="query"/>, at most <paramref name="maxBytes"/> long (<paramref name="tcp"/>: the
    /// transport's limit; over UDP the smaller of it and the asker's EDNS size, at least 512); null when no response
    /// is due (too short to have an id, or itself a response).
    /// </summary>
    public static byte[]? Respond(ReadOnlySpan<byte> query, DnsZone zone, bool tcp, int maxBytes = ushort.MaxValue)
    {
        if (query.Length < DnsMessage.HeaderLength)
            return null;
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(query);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(query[2..]);
        if ((flags & DnsMessage.ResponseFlag) != 0)
            return null;
        int opcode = (flags >> 11) & 0xF;
        ushort echoed = (ushort)(flags & (DnsMessage.RecursionDesiredFlag | DnsMessage.CheckingDisabledFlag));
        int limit = tcp ? maxBytes : Math.Min(maxBytes, DnsMessage.ClassicUdpBytes);

        if (!DnsMessage.TryParse(query, out var message, out _, QueryLimits))
            return Error(id, opcode, echoed, DnsResponseCode.FormatError, question: default, edns: false);
        var opts = message!.Additionals.Where(r => r.Type == DnsRecordType.Opt).ToList();
        bool edns = opts.Count > 0;
        if (opts.Count > 1 || (edns && opts[0].Name.Length != 0))
            return Error(id, opcode, echoed, DnsResponseCode.FormatError, question: default, edns: false);
        if (edns)
        {
            if (((opts[0].Ttl >> 16) & 0xFF) != 0)
                return Error(id, opcode, echoed, DnsResponseCode.BadVersion, question: default, edns: true);
            if (!tcp)
                limit = Math.Min(maxBytes, Math.Clamp((int)opts[0].Class, DnsMessage.ClassicUdpBytes, EdnsUdpBytes));
        }
        if (message.Questions.Count != 1 || !TryQuestionBytes(query, out var questionBytes, out var labels))
            return Error(id, opcode, echoed, DnsResponseCode.FormatError, question: default, edns);
        var question = query.Slice(DnsMessage.HeaderLength, questionBytes);
        if (opcode != 0)
            return Error(id, opcode, echoed, DnsResponseCode.NotImplemented, question, edns);

        var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(question[^4..]);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(question[^2..]);
        if (cls != DnsClass.In && cls != (ushort)DnsRecordType.Any)
            return Error(id, opcode, echoed, DnsResponseCode.Refused, question, edns);
        if (type is DnsRecordType.Opt)
            return Error(id, opcode, echoed, DnsResponseCode.FormatError, question, edns);
        if (type is DnsRecordType.Ixfr or DnsRecordType.Axfr or DnsRecordType.MailA or DnsRecordType.MailB)
            return Error(id, opcode, echoed, DnsResponseCode.NotImplemented, question, edns);
        if (!InZone(labels, zone))
            return Error(id, opcode, echoed, DnsResponseCode.Refused, question, edns);

        var writer = new DnsMessageWriter();
        writer.AddRawQuestion(question);
        var code = Answer(writer, zone, labels, question[..^4], type);
        if (edns)
            writer.AddOpt(EdnsUdpBytes);
        ushort responseFlags = DnsMessage.ResponseFlags(opcode, code, (ushort)(echoed | DnsMessage.AuthoritativeFlag));
        if (writer.Length <= limit)
            return writer.ToArray(id, responseFlags);
        var truncated = new DnsMessageWriter();
        truncated.AddRawQuestion(question);
        if (edns)
            truncated.AddOpt(EdnsUdpBytes);
        return truncated.ToArray(id, (ushort)(responseFlags | DnsMessage.TruncatedFlag));
    }

    private static DnsResponseCode Answer(DnsMessageWriter writer, DnsZone zone, List<byte[]> labels, ReadOnlySpan<byte> owner, DnsRecordType type)
    {
        int relative = labels.Count - zone.ApexLabels.Length;
        bool apex = relative == 0;
        string? key = Key(labels);
        bool host = labels.Take(relative).All(IsHostLabel);
        var txt = key is null ? [] : zone.Txt.Get(key);
        bool exists = host || txt.Count > 0 || (key is not null && zone.Txt.HasDescendant(key));
        if (!exists)
        {
            writer.AddRecord(DnsSection.Authority, zone.EncodedApex, DnsRecordType.Soa, DnsClass.In, DnsZone.NegativeTtl, zone.Soa);
            return DnsResponseCode.NameError;
        }

        bool any = type == DnsRecordType.Any;
        int before = writer.Length;
        if (host && (any || type == DnsRecordType.A))
            foreach (byte[] a in zone.AddressData(AddressFamily.InterNetwork))
                writer.AddRecord(DnsSection.Answer, owner, DnsRecordType.A, DnsClass.In, zone.AddressTtl, a);
        if (host && (any || type == DnsRecordType.Aaaa))
            foreach (byte[] a in zone.AddressData(AddressFamily.InterNetworkV6))
                writer.AddRecord(DnsSection.Answer, owner, DnsRecordType.Aaaa, DnsClass.In, zone.AddressTtl, a);
        if (any || type == DnsRecordType.Txt)
            foreach (string value in txt)
                writer.AddRecord(DnsSection.Answer, owner, DnsRecordType.Txt, DnsClass.In, zone.TxtTtl, DnsMessageWriter.TxtData([value]));
        if (apex && (any || type == DnsRecordType.Soa))
            writer.AddRecord(DnsSection.Answer, owner, DnsRecordType.Soa, DnsClass.In, zone.ApexTtl, zone.Soa);
        if (apex && (any || type == DnsRecordType.Ns))
        {
            writer.AddRecord(DnsSection.Answer, owner, DnsRecordType.Ns, DnsClass.In, zone.ApexTtl, zone.Ns);
            // Glue: the name server's own addresses, when it lies in the zone (it does by default).
            if (zone.NameServer.EndsWith("." + zone.Apex, StringComparison.Ordinal))
            {
                foreach (byte[] a in zone.AddressData(AddressFamily.InterNetwork))
                    writer.AddRecord(DnsSection.Additional, zone.Ns, DnsRecordType.A, DnsClass.In, zone.AddressTtl, a);
                foreach (byte[] a in zone.AddressData(AddressFamily.InterNetworkV6))
                    writer.AddRecord(DnsSection.Additional, zone.Ns, DnsRecordType.Aaaa, DnsClass.In, zone.AddressTtl, a);
            }
        }
        if (writer.Length == before)
            writer.AddRecord(DnsSection.Authority, zone.EncodedApex, DnsRecordType.Soa, DnsClass.In, DnsZone.NegativeTtl, zone.Soa);
        return DnsResponseCode.NoError;
    }

    private static byte[] Error(ushort id, int opcode, ushort echoed, DnsResponseCode code, ReadOnlySpan<byte> question, bool edns)
    {
        var writer = new DnsMessageWriter();
        if (!question.IsEmpty)
            writer.AddRawQuestion(question);
        if (edns)
            writer.AddOpt(EdnsUdpBytes, code);
        return writer.ToArray(id, DnsMessage.ResponseFlags(opcode, code, echoed));
    }

    /// <summary>
    /// The length of the first question (name, type, class) and its labels in lower case; false when its name holds
    /// a compression pointer (a query has nothing before its question to point at).
    /// </summary>
    private static bool TryQuestionBytes(ReadOnlySpan<byte> query, out int length, out List<byte[]> labels)
    {
        labels = [];
        int p = DnsMessage.HeaderLength;
        length = 0;
        while (p < query.Length)
        {
            int n = query[p];
            if (n == 0)
            {
                length = p + 1 + 4 - DnsMessage.HeaderLength;
                return p + 5 <= query.Length;
            }
            if (n > 63 || p + 1 + n > query.Length)
                return false;
            byte[] label = query.Slice(p + 1, n).ToArray();
            for (int i = 0; i < label.Length; i++)
                if (label[i] is >= (byte)'A' and <= (byte)'Z')
                    label[i] = (byte)(label[i] + 32);
            labels.Add(label);
            p += 1 + n;
        }
        return false;
    }

    private static bool InZone(List<byte[]> labels, DnsZone zone)
    {
        int offset = labels.Count - zone.ApexLabels.Length;
        if (offset < 0)
            return false;
        for (int i = 0; i < zone.ApexLabels.Length; i++)
            if (!labels[offset + i].AsSpan().SequenceEqual(zone.ApexLabels[i]))
                return false;
        return true;
    }

    /// <summary>A letter-digit-hyphen label: a name made of them is a host (with addresses); others (<c>_acme-challenge</c>) are not.</summary>
    private static bool IsHostLabel(byte[] label) =>
        label.Length > 0 && label.All(b => b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-');

    /// <summary>The name as a store key; null when a label holds a dot or a byte outside printable ASCII (no such key exists).</summary>
    private static string? Key(List<byte[]> labels)
    {
        foreach (byte[] label in labels)
            if (label.Any(b => b is (byte)'.' or < 0x21 or > 0x7E))
                return null;
        return string.Join('.', labels.Select(l => Encoding.ASCII.GetString(l)));
    }
}

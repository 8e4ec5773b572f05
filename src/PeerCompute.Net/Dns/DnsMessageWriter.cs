using System.Text;

namespace PeerCompute.Net.Dns;

/// <summary>The sections a record can be written to.</summary>
internal enum DnsSection
{
    Answer,
    Authority,
    Additional,
}

/// <summary>
/// Builds a DNS message section by section, for mDNS and unicast DNS alike. Names are never compressed (what js sends
/// too; every reader takes it). Flags, ids and classes are the caller's: nothing mDNS-specific is assumed here.
/// </summary>
internal sealed class DnsMessageWriter
{
    private readonly List<byte> _questions = new(64);
    private readonly List<byte>[] _sections = [new(512), [], []];
    private readonly int[] _counts = new int[3];
    private int _questionCount;

    /// <summary>The size of the message written so far, header included.</summary>
    public int Length => DnsMessage.HeaderLength + _questions.Count + _sections.Sum(s => s.Count);

    /// <summary>What a record adds to <see cref="Length"/>: its encoded owner name, the fixed 10 bytes and its data.</summary>
    public static int RecordLength(int encodedNameLength, int dataLength) => encodedNameLength + 10 + dataLength;

    /// <summary>A query with one question (id 0, no flags); for PTR <c>_p2p._udp.local</c> it is js's 33-byte query.</summary>
    public static byte[] Query(string name, DnsRecordType type = DnsRecordType.Ptr)
    {
        var writer = new DnsMessageWriter();
        writer.AddQuestion(name, type, DnsClass.In);
        return writer.ToArray(id: 0, flags: 0);
    }

    public void AddQuestion(string name, DnsRecordType type, ushort cls)
    {
        _questions.AddRange(EncodeName(name));
        WriteUInt16(_questions, (ushort)type);
        WriteUInt16(_questions, cls);
        _questionCount++;
    }

    /// <summary>Adds a question exactly as it was received (its name's case kept, which resolvers check), type and class included.</summary>
    public void AddRawQuestion(ReadOnlySpan<byte> question)
    {
        _questions.AddRange(question);
        _questionCount++;
    }

    /// <summary>
    /// The EDNS OPT pseudo-record (RFC 6891 §6.1.2) in the additional section: root owner, the UDP payload size in the
    /// class, the upper 8 bits of an extended response code and the version (0) in the TTL, no options.
    /// </summary>
    public void AddOpt(ushort udpPayloadSize, DnsResponseCode code = DnsResponseCode.NoError) =>
        AddRecord(DnsSection.Additional, [0], DnsRecordType.Opt, udpPayloadSize, (uint)(((int)code >> 4) & 0xFF) << 24, []);

    /// <summary>TXT record data: each string as one length-prefixed character string; throws for a string over 255 bytes.</summary>
    public static byte[] TxtData(IEnumerable<string> strings)
    {
        var data = new List<byte>();
        foreach (string s in strings)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            if (bytes.Length > 255)
                throw new ArgumentException("TXT string longer than 255 bytes", nameof(strings));
            data.Add((byte)bytes.Length);
            data.AddRange(bytes);
        }
        return [.. data];
    }

    /// <summary>SOA record data (RFC 1035 §3.3.13), names uncompressed.</summary>
    public static byte[] SoaData(string primary, string mailbox, uint serial, uint refresh, uint retry, uint expire, uint minimum)
    {
        var data = new List<byte>(64);
        data.AddRange(EncodeName(primary));
        data.AddRange(EncodeName(mailbox));
        foreach (uint value in (ReadOnlySpan<uint>)[serial, refresh, retry, expire, minimum])
            WriteUInt32(data, value);
        return [.. data];
    }

    /// <summary>Adds a record whose owner name is already encoded (<see cref="EncodeName"/>), so a name used often is encoded once.</summary>
    public void AddRecord(DnsSection section, ReadOnlySpan<byte> encodedName, DnsRecordType type, ushort cls, uint ttl, ReadOnlySpan<byte> data)
    {
        if (data.Length > ushort.MaxValue)
            throw new ArgumentException("record data longer than 65535 bytes", nameof(data));
        var buffer = _sections[(int)section];
        buffer.AddRange(encodedName);
        WriteUInt16(buffer, (ushort)type);
        WriteUInt16(buffer, cls);
        WriteUInt32(buffer, ttl);
        WriteUInt16(buffer, (ushort)data.Length);
        buffer.AddRange(data);
        _counts[(int)section]++;
    }

    public byte[] ToArray(ushort id, ushort flags)
    {
        var buffer = new List<byte>(Length);
        WriteUInt16(buffer, id);
        WriteUInt16(buffer, flags);
        WriteUInt16(buffer, (ushort)_questionCount);
        foreach (int count in _counts)
            WriteUInt16(buffer, (ushort)count);
        buffer.AddRange(_questions);
        foreach (var section in _sections)
            buffer.AddRange(section);
        return [.. buffer];
    }

    /// <summary>A name as labels, uncompressed; throws for a label over 63 bytes or a name over 255.</summary>
    public static byte[] EncodeName(string name)
    {
        var result = new List<byte>(name.Length + 2);
        foreach (string label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(label);
            if (bytes.Length > 63)
                throw new ArgumentException($"label '{label}' is longer than 63 bytes", nameof(name));
            result.Add((byte)bytes.Length);
            result.AddRange(bytes);
        }
        result.Add(0);
        if (result.Count > DnsMessage.MaxNameLength)
            throw new ArgumentException("name longer than 255 bytes", nameof(name));
        return [.. result];
    }

    private static void WriteUInt16(List<byte> buffer, ushort value)
    {
        buffer.Add((byte)(value >> 8));
        buffer.Add((byte)value);
    }

    private static void WriteUInt32(List<byte> buffer, uint value)
    {
        WriteUInt16(buffer, (ushort)(value >> 16));
        WriteUInt16(buffer, (ushort)value);
    }
}

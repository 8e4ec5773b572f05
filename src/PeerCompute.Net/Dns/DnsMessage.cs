using System.Buffers.Binary;
using System.Text;

namespace PeerCompute.Net.Dns;

/// <summary>A DNS packet that breaks the format or a limit; the message is a reason a person can read.</summary>
internal sealed class DnsFormatException(string reason) : Exception(reason);

internal enum DnsRecordType : ushort
{
    A = 1,
    Ns = 2,
    Cname = 5,
    Soa = 6,
    Ptr = 12,
    Txt = 16,
    Aaaa = 28,
    Srv = 33,
    Opt = 41,
    Ixfr = 251,
    Axfr = 252,
    MailB = 253,
    MailA = 254,
    Any = 255,
}

/// <summary>Class codes. The codec keeps a class's 16 bits as sent: mDNS gives the top bit a meaning of its own (see the Mdns layer).</summary>
internal static class DnsClass
{
    public const ushort In = 1;

    /// <summary>The class without its top bit: what the class is for both unicast DNS and mDNS.</summary>
    public static ushort Code(ushort cls) => (ushort)(cls & 0x7FFF);
}

/// <summary>Response codes of unicast DNS (RFC 1035 §4.1.1; BADVERS is EDNS's, RFC 6891, split between header and OPT).</summary>
internal enum DnsResponseCode
{
    NoError = 0,
    FormatError = 1,
    ServerFailure = 2,
    NameError = 3,
    NotImplemented = 4,
    Refused = 5,
    BadVersion = 16,
}

/// <summary>A question; <see cref="Class"/> is the 16 bits as sent.</summary>
internal readonly record struct DnsQuestion(string Name, DnsRecordType Type, ushort Class);

/// <summary>
/// One resource record; <see cref="Class"/> is the 16 bits as sent. For class IN, <see cref="Target"/> is set for PTR and CNAME
/// (the decompressed name) and <see cref="Strings"/> for TXT; other types and classes keep their raw <see cref="Data"/>
/// (SRV/A/AAAA are tolerated, not interpreted).
/// </summary>
internal sealed record DnsRecord(string Name, DnsRecordType Type, ushort Class, uint Ttl, string? Target, IReadOnlyList<string> Strings, ReadOnlyMemory<byte> Data);

/// <summary>Named limits for parsing; every count and size in a packet is checked against them before use.</summary>
internal sealed class DnsLimits
{
    public static readonly DnsLimits Default = new();

    /// <summary>Bigger than any mDNS packet (RFC 6762 caps them at 9000 bytes) and any unicast one over UDP.</summary>
    public int MaxMessageBytes { get; init; } = 9000;

    public int MaxQuestions { get; init; } = 64;

    /// <summary>Across answers, authority and additional sections together.</summary>
    public int MaxRecords { get; init; } = 256;

    /// <summary>Compression pointers followed while reading one name.</summary>
    public int MaxPointerJumps { get; init; } = 16;

    public int MaxTxtStrings { get; init; } = 64;
}

/// <summary>A parsed DNS message, unicast or multicast: header, questions and the three record sections, every class kept.</summary>
internal sealed record DnsMessage(
    ushort Id,
    ushort Flags,
    IReadOnlyList<DnsQuestion> Questions,
    IReadOnlyList<DnsRecord> Answers,
    IReadOnlyList<DnsRecord> Authorities,
    IReadOnlyList<DnsRecord> Additionals)
{
    public const ushort ResponseFlag = 0x8000;
    public const ushort AuthoritativeFlag = 0x0400;
    public const ushort TruncatedFlag = 0x0200;
    public const ushort RecursionDesiredFlag = 0x0100;
    public const ushort RecursionAvailableFlag = 0x0080;
    public const ushort CheckingDisabledFlag = 0x0010;

    /// <summary>The largest UDP message any DNS peer must take, without EDNS (RFC 1035 §4.2.1).</summary>
    public const int ClassicUdpBytes = 512;
    internal const int HeaderLength = 12;
    internal const int MaxNameLength = 255;

    public bool IsResponse => (Flags & ResponseFlag) != 0;

    /// <summary>The 4-bit operation code (0: a standard query).</summary>
    public int Opcode => (Flags >> 11) & 0xF;

    /// <summary>The header's 4-bit response code (the low bits of an extended one).</summary>
    public int ResponseCode => Flags & 0xF;

    /// <summary>Flags of a header: QR, the opcode and the low 4 bits of <paramref name="code"/> merged into <paramref name="other"/>.</summary>
    public static ushort ResponseFlags(int opcode, DnsResponseCode code, ushort other) =>
        (ushort)(ResponseFlag | ((opcode & 0xF) << 11) | other | ((int)code & 0xF));

    /// <summary>Parses a whole packet; false (with a reason) for anything malformed or over a limit. Never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out DnsMessage? message, out string? error, DnsLimits? limits = null)
    {
        try
        {
            message = Parse(packet, limits);
            error = null;
            return true;
        }
        catch (DnsFormatException ex)
        {
            message = null;
            error = ex.Message;
            return false;
        }
    }

    /// <summary>Parses a whole packet; throws only <see cref="DnsFormatException"/>.</summary>
    public static DnsMessage Parse(ReadOnlySpan<byte> packet, DnsLimits? limits = null)
    {
        limits ??= DnsLimits.Default;
        if (packet.Length > limits.MaxMessageBytes)
            throw new DnsFormatException($"packet of {packet.Length} bytes is over the {limits.MaxMessageBytes}-byte limit");
        if (packet.Length < HeaderLength)
            throw new DnsFormatException($"packet of {packet.Length} bytes is shorter than a DNS header");
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(packet);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        int qd = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]);
        int ns = BinaryPrimitives.ReadUInt16BigEndian(packet[8..]);
        int ar = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        if (qd > limits.MaxQuestions)
            throw new DnsFormatException($"{qd} questions is over the limit of {limits.MaxQuestions}");
        if (an + ns + ar > limits.MaxRecords)
            throw new DnsFormatException($"{an + ns + ar} records is over the limit of {limits.MaxRecords}");
        // The smallest question is 5 bytes and the smallest record 11: counts the packet cannot hold are lies.
        if (HeaderLength + (qd * 5) + ((an + ns + ar) * 11) > packet.Length)
            throw new DnsFormatException("section counts do not fit in the packet");

        int pos = HeaderLength;
        var questions = new List<DnsQuestion>(qd);
        for (int i = 0; i < qd; i++)
        {
            string name = ReadName(packet, ref pos, limits);
            Need(packet, pos, 4, "question");
            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
            ushort cls = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
            pos += 4;
            questions.Add(new DnsQuestion(name, type, cls));
        }
        var answers = ReadRecords(packet, ref pos, an, limits);
        var authorities = ReadRecords(packet, ref pos, ns, limits);
        var additionals = ReadRecords(packet, ref pos, ar, limits);
        return new DnsMessage(id, flags, questions, answers, authorities, additionals);
    }

    private static List<DnsRecord> ReadRecords(ReadOnlySpan<byte> packet, ref int pos, int count, DnsLimits limits)
    {
        var records = new List<DnsRecord>(count);
        for (int i = 0; i < count; i++)
        {
            string name = ReadName(packet, ref pos, limits);
            Need(packet, pos, 10, "record header");
            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
            ushort cls = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(packet[(pos + 4)..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 8)..]);
            pos += 10;
            Need(packet, pos, length, "record data");
            int dataStart = pos;
            pos += length;
            var data = packet.Slice(dataStart, length);
            // Typed data is read for class IN only (mDNS's flag bit aside): other classes keep their bytes as they are.
            if (DnsClass.Code(cls) != DnsClass.In)
            {
                records.Add(new DnsRecord(name, type, cls, ttl, null, [], data.ToArray()));
                continue;
            }
            switch (type)
            {
                case DnsRecordType.Ptr:
                case DnsRecordType.Cname:
                {
                    int p = dataStart;
                    string target = ReadName(packet, ref p, limits);
                    if (p != dataStart + length)
                        throw new DnsFormatException($"{type.ToString().ToUpperInvariant()} data length does not match its name");
                    records.Add(new DnsRecord(name, type, cls, ttl, target, [], ReadOnlyMemory<byte>.Empty));
                    break;
                }
                case DnsRecordType.Txt:
                    records.Add(new DnsRecord(name, type, cls, ttl, null, ReadTxt(data, limits), ReadOnlyMemory<byte>.Empty));
                    break;
                default:
                    records.Add(new DnsRecord(name, type, cls, ttl, null, [], data.ToArray()));
                    break;
            }
        }
        return records;
    }

    private static List<string> ReadTxt(ReadOnlySpan<byte> data, DnsLimits limits)
    {
        var strings = new List<string>();
        int p = 0;
        while (p < data.Length)
        {
            int length = data[p++];
            if (p + length > data.Length)
                throw new DnsFormatException("TXT string runs past its record");
            if (strings.Count == limits.MaxTxtStrings)
                throw new DnsFormatException($"more than {limits.MaxTxtStrings} TXT strings in one record");
            strings.Add(Encoding.UTF8.GetString(data.Slice(p, length)));
            p += length;
        }
        return strings;
    }

    /// <summary>
    /// Reads a possibly compressed name. Pointers must point strictly backwards (before the label that holds them),
    /// so a chain always ends; the jump count and the name length are bounded too.
    /// </summary>
    private static string ReadName(ReadOnlySpan<byte> packet, ref int pos, DnsLimits limits)
    {
        Span<byte> name = stackalloc byte[MaxNameLength + 1];
        int nameLength = 0;
        int p = pos;
        int jumps = 0;
        int end = -1;
        while (true)
        {
            Need(packet, p, 1, "name");
            byte b = packet[p];
            if (b == 0)
            {
                p++;
                break;
            }
            switch (b & 0xC0)
            {
                case 0xC0:
                {
                    Need(packet, p, 2, "name pointer");
                    int target = ((b & 0x3F) << 8) | packet[p + 1];
                    if (target >= p)
                        throw new DnsFormatException($"name pointer at {p} does not point backwards (to {target})");
                    if (++jumps > limits.MaxPointerJumps)
                        throw new DnsFormatException($"more than {limits.MaxPointerJumps} name pointers");
                    if (end < 0)
                        end = p + 2;
                    p = target;
                    continue;
                }
                case 0x00:
                {
                    int length = b;
                    Need(packet, p + 1, length, "label");
                    if (nameLength + length + 1 > MaxNameLength)
                        throw new DnsFormatException($"name longer than {MaxNameLength} bytes");
                    if (nameLength > 0)
                        name[nameLength++] = (byte)'.';
                    packet.Slice(p + 1, length).CopyTo(name[nameLength..]);
                    nameLength += length;
                    p += 1 + length;
                    continue;
                }
                default:
                    throw new DnsFormatException($"unsupported label type 0x{b:x2}");
            }
        }
        pos = end >= 0 ? end : p;
        return Encoding.UTF8.GetString(name[..nameLength]);
    }

    private static void Need(ReadOnlySpan<byte> packet, int pos, int count, string what)
    {
        if (pos < 0 || count < 0 || pos > packet.Length - count)
            throw new DnsFormatException($"packet truncated in a {what}");
    }
}

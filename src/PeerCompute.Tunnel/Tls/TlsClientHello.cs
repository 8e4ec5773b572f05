using System.Buffers.Binary;
using System.Text;

namespace PeerCompute.Tunnel.Tls;

/// <summary>What reading the start of a TLS connection gave.</summary>
public enum ClientHelloRead : byte
{
    /// <summary>The first record is not all here yet.</summary>
    NeedMore = 0,

    /// <summary>Not a TLS handshake record holding a ClientHello, or one whose fields do not fit their lengths.</summary>
    Malformed = 1,

    /// <summary>A ClientHello: its server name and offered application protocols are read.</summary>
    Parsed = 2,
}

/// <summary>
/// The two things a server needs from a ClientHello before it picks its certificate (RFC 8446 §4.1.2): the server name
/// (SNI, RFC 6066 §3) and the offered application protocols (ALPN, RFC 7301), read from the first TLS record only.
/// Pure and bounds-checked: any length that points past its container makes the hello malformed, never an exception.
/// </summary>
public sealed record TlsClientHello(string? ServerName, IReadOnlyList<string> Protocols)
{
    /// <summary>The largest TLS plaintext record (RFC 8446 §5.1): the most a reader must buffer before deciding.</summary>
    public const int MaxRecordBytes = 5 + (1 << 14);

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloType = 1;
    private const ushort ServerNameExtension = 0;
    private const ushort AlpnExtension = 16;

    /// <summary>Whether <paramref name="protocol"/> is the one and only protocol offered (an ACME TLS-ALPN-01 validation offers only <c>acme-tls/1</c>).</summary>
    public bool OffersOnly(string protocol) => Protocols.Count == 1 && Protocols[0] == protocol;

    /// <summary>Reads the ClientHello at the start of <paramref name="data"/> (the bytes a client sent first).</summary>
    public static ClientHelloRead TryRead(ReadOnlySpan<byte> data, out TlsClientHello? hello)
    {
        hello = null;
        if (data.Length >= 1 && data[0] != HandshakeRecord)
            return ClientHelloRead.Malformed;
        if (data.Length < 5)
            return ClientHelloRead.NeedMore;
        int recordLength = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
        if (recordLength == 0 || 5 + recordLength > MaxRecordBytes)
            return ClientHelloRead.Malformed;
        if (data.Length < 5 + recordLength)
            return ClientHelloRead.NeedMore;
        var reader = new Reader(data.Slice(5, recordLength));
        if (!reader.Byte(out byte type) || type != ClientHelloType || !reader.Length24(out int bodyLength))
            return ClientHelloRead.Malformed;
        // A hello longer than its first record is read as far as that record goes: its extensions may be cut, so it
        // counts as malformed here (the TLS stack still reads it whole; only the early look at it gives up).
        if (!reader.Take(bodyLength, out var body))
            return ClientHelloRead.Malformed;
        var fields = new Reader(body);
        if (!fields.Skip(2 + 32) || !fields.Vector8(out _) || !fields.Vector16(out _) || !fields.Vector8(out _))
            return ClientHelloRead.Malformed;
        string? serverName = null;
        var protocols = new List<string>();
        if (fields.Remaining > 0)
        {
            if (!fields.Vector16(out var extensions) || fields.Remaining != 0)
                return ClientHelloRead.Malformed;
            var list = new Reader(extensions);
            bool sawName = false, sawAlpn = false;
            while (list.Remaining > 0)
            {
                if (!list.UInt16(out ushort extension) || !list.Vector16(out var extensionData))
                    return ClientHelloRead.Malformed;
                if (extension == ServerNameExtension)
                {
                    if (sawName || !TryServerName(extensionData, out serverName))
                        return ClientHelloRead.Malformed;
                    sawName = true;
                }
                else if (extension == AlpnExtension)
                {
                    if (sawAlpn || !TryProtocols(extensionData, protocols))
                        return ClientHelloRead.Malformed;
                    sawAlpn = true;
                }
            }
        }
        hello = new TlsClientHello(serverName, protocols);
        return ClientHelloRead.Parsed;
    }

    private static bool TryServerName(ReadOnlySpan<byte> data, out string? serverName)
    {
        serverName = null;
        var outer = new Reader(data);
        if (!outer.Vector16(out var names) || outer.Remaining != 0)
            return false;
        var list = new Reader(names);
        while (list.Remaining > 0)
        {
            if (!list.Byte(out byte nameType) || !list.Vector16(out var name))
                return false;
            if (nameType != 0)
                continue;
            if (name.IsEmpty || serverName is not null || !Ascii.IsValid(name))
                return false;
            serverName = Encoding.ASCII.GetString(name);
        }
        return true;
    }

    private static bool TryProtocols(ReadOnlySpan<byte> data, List<string> protocols)
    {
        var outer = new Reader(data);
        if (!outer.Vector16(out var names) || outer.Remaining != 0 || names.IsEmpty)
            return false;
        var list = new Reader(names);
        while (list.Remaining > 0)
        {
            if (!list.Vector8(out var name) || name.IsEmpty)
                return false;
            protocols.Add(Encoding.Latin1.GetString(name));
        }
        return true;
    }

    /// <summary>Reads big-endian fields off a span; every read checks that its length fits what is left.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly int Remaining => _rest.Length;

        public bool Take(int length, out ReadOnlySpan<byte> taken)
        {
            if (length < 0 || length > _rest.Length)
            {
                taken = default;
                return false;
            }
            taken = _rest[..length];
            _rest = _rest[length..];
            return true;
        }

        public bool Skip(int length) => Take(length, out _);

        public bool Byte(out byte value)
        {
            value = 0;
            if (!Take(1, out var b))
                return false;
            value = b[0];
            return true;
        }

        public bool UInt16(out ushort value)
        {
            value = 0;
            if (!Take(2, out var b))
                return false;
            value = BinaryPrimitives.ReadUInt16BigEndian(b);
            return true;
        }

        public bool Length24(out int value)
        {
            value = 0;
            if (!Take(3, out var b))
                return false;
            value = (b[0] << 16) | (b[1] << 8) | b[2];
            return true;
        }

        public bool Vector8(out ReadOnlySpan<byte> value)
        {
            value = default;
            return Byte(out byte length) && Take(length, out value);
        }

        public bool Vector16(out ReadOnlySpan<byte> value)
        {
            value = default;
            return UInt16(out ushort length) && Take(length, out value);
        }
    }
}

using System.Buffers.Binary;
using System.Text;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>Reads fields from a message payload; every method returns false instead of reading past the end.</summary>
internal ref struct SpanCursor(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public bool TryByte(out byte value)
    {
        value = 0;
        if (_rest.IsEmpty)
            return false;
        value = _rest[0];
        _rest = _rest[1..];
        return true;
    }

    public bool TryUInt16(out ushort value)
    {
        value = 0;
        if (_rest.Length < 2)
            return false;
        value = BinaryPrimitives.ReadUInt16BigEndian(_rest);
        _rest = _rest[2..];
        return true;
    }

    public bool TryInt64(out long value)
    {
        value = 0;
        if (_rest.Length < 8)
            return false;
        value = BinaryPrimitives.ReadInt64BigEndian(_rest);
        _rest = _rest[8..];
        return true;
    }

    public bool TryBytes(int count, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (count < 0 || _rest.Length < count)
            return false;
        value = _rest[..count];
        _rest = _rest[count..];
        return true;
    }

    /// <summary>A string prefixed by its UTF-8 length in one byte; printable ASCII only when <paramref name="asciiOnly"/>.</summary>
    public bool TryShortString(out string value, bool asciiOnly = true)
    {
        value = "";
        if (!TryByte(out byte length) || !TryBytes(length, out var bytes))
            return false;
        return TryDecode(bytes, asciiOnly, out value);
    }

    /// <summary>A string prefixed by its UTF-8 length in two bytes.</summary>
    public bool TryLongString(out string value)
    {
        value = "";
        if (!TryUInt16(out ushort length) || !TryBytes(length, out var bytes))
            return false;
        return TryDecode(bytes, asciiOnly: false, out value);
    }

    private static bool TryDecode(ReadOnlySpan<byte> bytes, bool asciiOnly, out string value)
    {
        value = "";
        if (asciiOnly)
        {
            foreach (byte b in bytes)
                if (b is < 0x21 or > 0x7E)
                    return false;
            value = Encoding.ASCII.GetString(bytes);
            return true;
        }
        try
        {
            value = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}

/// <summary>Builds a message payload.</summary>
internal sealed class PayloadWriter
{
    private readonly MemoryStream _buffer = new();

    public PayloadWriter Byte(byte value)
    {
        _buffer.WriteByte(value);
        return this;
    }

    public PayloadWriter UInt16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    public PayloadWriter Int64(long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    public PayloadWriter Bytes(ReadOnlySpan<byte> value)
    {
        _buffer.Write(value);
        return this;
    }

    public PayloadWriter ShortString(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > byte.MaxValue)
            throw new ArgumentException("at most 255 bytes", nameof(value));
        return Byte((byte)bytes.Length).Bytes(bytes);
    }

    public PayloadWriter LongString(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > 1024)
            bytes = Encoding.UTF8.GetBytes(value[..Math.Min(value.Length, 1000)]);
        return UInt16((ushort)bytes.Length).Bytes(bytes);
    }

    public byte[] ToFrame(TunnelMessageType type) => TunnelFrame.Encode(type, _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length));
}

using System.Buffers;
using System.Text;

namespace PeerCompute.Net.Protobuf;

/// <summary>
/// Just enough protobuf wire-format writing for the libp2p messages: fields are written in the order they are
/// called (callers go in field-number order, the canonical form), varints minimal and up to 64 bits.
/// </summary>
internal sealed class ProtobufWriter
{
    /// <summary>A 64-bit protobuf varint takes at most 10 bytes.</summary>
    public const int MaxVarintLength = 10;

    private readonly ArrayBufferWriter<byte> _output;

    public ProtobufWriter(int initialCapacity = 256) => _output = new ArrayBufferWriter<byte>(Math.Max(1, initialCapacity));

    public ReadOnlySpan<byte> WrittenSpan => _output.WrittenSpan;

    public int Length => _output.WrittenCount;

    /// <summary>A length-delimited field (wire type 2): tag, length, bytes.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        var span = _output.GetSpan(2 * MaxVarintLength + value.Length);
        int n = WriteVarint(span, Tag(field, ProtobufReader.LengthDelimited));
        n += WriteVarint(span[n..], (ulong)value.Length);
        value.CopyTo(span[n..]);
        _output.Advance(n + value.Length);
    }

    /// <summary>A string field: its UTF-8 bytes, length-delimited.</summary>
    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A nested message: what <paramref name="message"/> holds, length-delimited.</summary>
    public void WriteMessage(int field, ProtobufWriter message) => WriteBytes(field, message.WrittenSpan);

    /// <summary>A varint field (wire type 0): uint32, uint64, enum (non-negative), bool.</summary>
    public void WriteVarint(int field, ulong value)
    {
        var span = _output.GetSpan(2 * MaxVarintLength);
        int n = WriteVarint(span, Tag(field, ProtobufReader.Varint));
        n += WriteVarint(span[n..], value);
        _output.Advance(n);
    }

    public byte[] ToArray() => _output.WrittenSpan.ToArray();

    private static ulong Tag(int field, int wireType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        return ((ulong)field << 3) | (uint)wireType;
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }
}

using System.Buffers;

namespace PeerCompute.Core.Multiformats;

/// <summary>Unsigned LEB128 varint as multiformats defines it: minimal encoding, at most 9 bytes (63 bits).</summary>
public static class Varint
{
    public const int MaxLength = 9;

    public static int GetLength(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    /// <summary>Writes <paramref name="value"/> and returns the number of bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        if (value > long.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), "A multiformats varint holds at most 63 bits.");
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static byte[] Encode(ulong value)
    {
        var bytes = new byte[GetLength(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Reads a varint. <see cref="OperationStatus.NeedMoreData"/> when the input ends inside it,
    /// <see cref="OperationStatus.InvalidData"/> when it is longer than 9 bytes or not minimal.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> source, out ulong value, out int consumed)
    {
        value = 0;
        consumed = 0;
        int shift = 0;
        for (int i = 0; i < source.Length; i++)
        {
            if (i == MaxLength)
                return OperationStatus.InvalidData;
            byte b = source[i];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0)
                    return OperationStatus.InvalidData; // not minimal
                consumed = i + 1;
                return OperationStatus.Done;
            }
            shift += 7;
        }
        value = 0;
        return source.Length >= MaxLength ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
    }

    public static OperationStatus TryRead(ref SequenceReader<byte> reader, out ulong value)
    {
        Span<byte> scratch = stackalloc byte[MaxLength];
        int available = (int)Math.Min(reader.Remaining, MaxLength);
        reader.TryCopyTo(scratch[..available]);
        var status = TryRead(scratch[..available], out value, out int consumed);
        if (status == OperationStatus.Done)
            reader.Advance(consumed);
        return status;
    }
}

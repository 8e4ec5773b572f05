namespace PeerCompute.Net.Protobuf;

/// <summary>
/// Just enough protobuf wire-format reading for the libp2p messages (Noise payload, identify, circuit relay, DCUtR,
/// signed envelopes): fields in order, length-delimited values as slices of the input, varints as numbers.
/// Malformed input throws <see cref="Libp2pProtocolException"/>; nothing else escapes.
/// </summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> buffer)
{
    /// <summary>Wire type 0: a varint.</summary>
    public const int Varint = 0;

    /// <summary>Wire type 2: length-delimited bytes (bytes, string, nested message, packed repeated).</summary>
    public const int LengthDelimited = 2;

    private ReadOnlySpan<byte> _buffer = buffer;

    /// <summary>
    /// Reads the next field: length-delimited fields give their bytes in <paramref name="value"/>, varint and
    /// fixed fields give nothing (they are skipped). False at the end; throws on malformed input.
    /// </summary>
    public bool TryReadField(out int field, out int wireType, out ReadOnlySpan<byte> value) =>
        TryReadField(out field, out wireType, out value, out _);

    /// <summary>
    /// Reads the next field: a length-delimited one (wire type 2) gives its bytes in <paramref name="value"/>, a varint
    /// (wire type 0) its value in <paramref name="number"/>; fixed 32- and 64-bit fields are skipped and give neither.
    /// False at the end; throws <see cref="Libp2pProtocolException"/> on malformed input.
    /// </summary>
    public bool TryReadField(out int field, out int wireType, out ReadOnlySpan<byte> value, out ulong number)
    {
        value = default;
        number = 0;
        field = 0;
        wireType = 0;
        if (_buffer.IsEmpty)
            return false;
        ulong tag = ReadVarint();
        field = (int)Math.Min(tag >> 3, int.MaxValue);
        wireType = (int)(tag & 7);
        if (field == 0)
            throw new Libp2pProtocolException("protobuf: field number 0");
        switch (wireType)
        {
            case Varint:
                number = ReadVarint();
                break;
            case 1:
                Skip(8);
                break;
            case 5:
                Skip(4);
                break;
            case LengthDelimited:
                ulong length = ReadVarint();
                if (length > (ulong)_buffer.Length)
                    throw new Libp2pProtocolException("protobuf: truncated field");
                value = _buffer[..(int)length];
                _buffer = _buffer[(int)length..];
                break;
            default:
                throw new Libp2pProtocolException($"protobuf: unsupported wire type {wireType}");
        }
        return true;
    }

    private ulong ReadVarint()
    {
        // Protobuf varints may be up to 10 bytes and need not be minimal, unlike multiformats varints.
        ulong result = 0;
        for (int i = 0; i < 10; i++)
        {
            if (i >= _buffer.Length)
                throw new Libp2pProtocolException("protobuf: truncated varint");
            byte b = _buffer[i];
            result |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                _buffer = _buffer[(i + 1)..];
                return result;
            }
        }
        throw new Libp2pProtocolException("protobuf: varint too long");
    }

    private void Skip(int count)
    {
        if (_buffer.Length < count)
            throw new Libp2pProtocolException("protobuf: truncated field");
        _buffer = _buffer[count..];
    }
}

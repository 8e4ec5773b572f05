using System.Buffers;
using System.Text;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Noise;

/// <summary>
/// libp2p's <c>NoiseHandshakePayload</c>: 1 identity_key (serialized PublicKey), 2 identity_sig,
/// 4 extensions { 1 webtransport_certhashes (ignored), 2 stream_muxers }. Pure encode/decode over spans.
/// </summary>
internal sealed record NoiseHandshakePayload(byte[] IdentityKey, byte[] IdentitySignature, IReadOnlyList<string> StreamMuxers)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>What the identity key signs: this prefix followed by the raw X25519 static public key.</summary>
    public static ReadOnlySpan<byte> SignaturePrefix => "noise-libp2p-static-key:"u8;

    private const int MaxMuxers = 16;

    public byte[] Encode()
    {
        var extensions = new ArrayBufferWriter<byte>();
        foreach (var muxer in StreamMuxers)
            WriteBytesField(extensions, 2, Encoding.UTF8.GetBytes(muxer));
        var output = new ArrayBufferWriter<byte>();
        WriteBytesField(output, 1, IdentityKey);
        WriteBytesField(output, 2, IdentitySignature);
        if (extensions.WrittenCount > 0)
            WriteBytesField(output, 4, extensions.WrittenSpan);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a payload; unknown fields are skipped, malformed ones throw <see cref="Libp2pProtocolException"/>.</summary>
    public static NoiseHandshakePayload Decode(ReadOnlySpan<byte> bytes)
    {
        byte[]? key = null, signature = null;
        var muxers = new List<string>();
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadField(out int field, out int wireType, out var value))
        {
            if (wireType != 2)
                continue;
            switch (field)
            {
                case 1: key = value.ToArray(); break;
                case 2: signature = value.ToArray(); break;
                case 4:
                    var ext = new ProtobufReader(value);
                    while (ext.TryReadField(out int extField, out int extWire, out var extValue))
                    {
                        if (extField != 2 || extWire != 2)
                            continue;
                        if (muxers.Count == MaxMuxers)
                            throw new Libp2pProtocolException("noise: too many stream muxers in the handshake payload");
                        try
                        {
                            muxers.Add(StrictUtf8.GetString(extValue));
                        }
                        catch (DecoderFallbackException)
                        {
                            throw new Libp2pProtocolException("noise: a stream muxer name is not UTF-8");
                        }
                    }
                    break;
            }
        }
        if (key is null || signature is null)
            throw new Libp2pProtocolException("noise: the handshake payload lacks the identity key or its signature");
        return new NoiseHandshakePayload(key, signature, muxers);
    }

    private static void WriteBytesField(ArrayBufferWriter<byte> output, int field, ReadOnlySpan<byte> value)
    {
        var span = output.GetSpan(1 + Varint.MaxLength + value.Length);
        span[0] = (byte)((field << 3) | 2);
        int n = 1 + Varint.Write(span[1..], (ulong)value.Length);
        value.CopyTo(span[n..]);
        output.Advance(n + value.Length);
    }
}

/// <summary>Just enough protobuf wire-format reading for the handshake and identify messages.</summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> buffer)
{
    private ReadOnlySpan<byte> _buffer = buffer;

    /// <summary>
    /// Reads the next field: length-delimited fields give their bytes in <paramref name="value"/>, varint and
    /// fixed fields give nothing (they are skipped). False at the end; throws on malformed input.
    /// </summary>
    public bool TryReadField(out int field, out int wireType, out ReadOnlySpan<byte> value)
    {
        value = default;
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
            case 0:
                ReadVarint();
                break;
            case 1:
                Skip(8);
                break;
            case 5:
                Skip(4);
                break;
            case 2:
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

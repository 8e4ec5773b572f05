using System.Text;
using PeerCompute.Net.Protobuf;

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
        var extensions = new ProtobufWriter();
        foreach (var muxer in StreamMuxers)
            extensions.WriteString(2, muxer);
        var output = new ProtobufWriter();
        output.WriteBytes(1, IdentityKey);
        output.WriteBytes(2, IdentitySignature);
        if (extensions.Length > 0)
            output.WriteMessage(4, extensions);
        return output.ToArray();
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
}

namespace PeerCompute.Core.Identity;

/// <summary>
/// The libp2p key protobufs (<c>PublicKey</c>/<c>PrivateKey { KeyType Type = 1; bytes Data = 2; }</c>) for Ed25519,
/// encoded by hand: for Ed25519 they are a fixed 4-byte prefix and the key bytes.
/// </summary>
public static class KeyProtobuf
{
    public const int Ed25519PublicKeyLength = 32;
    public const int Ed25519SeedLength = 32;

    /// <summary>Serialized Ed25519 public key: <c>08 01 12 20</c> + 32 bytes.</summary>
    public const int PublicKeyProtobufLength = 36;

    /// <summary>Serialized Ed25519 private key: <c>08 01 12 40</c> + seed + public key.</summary>
    public const int PrivateKeyProtobufLength = 68;

    public static byte[] EncodeEd25519PublicKey(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != Ed25519PublicKeyLength)
            throw new ArgumentException("An Ed25519 public key is 32 bytes.", nameof(publicKey));
        var bytes = new byte[PublicKeyProtobufLength];
        bytes[0] = 0x08; bytes[1] = 0x01; bytes[2] = 0x12; bytes[3] = 0x20;
        publicKey.CopyTo(bytes.AsSpan(4));
        return bytes;
    }

    public static byte[] EncodeEd25519PrivateKey(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> publicKey)
    {
        var bytes = new byte[PrivateKeyProtobufLength];
        bytes[0] = 0x08; bytes[1] = 0x01; bytes[2] = 0x12; bytes[3] = 0x40;
        seed.CopyTo(bytes.AsSpan(4));
        publicKey.CopyTo(bytes.AsSpan(36));
        return bytes;
    }

    /// <summary>Decodes a serialized public key; only Ed25519 keys are accepted.</summary>
    public static bool TryDecodeEd25519PublicKey(ReadOnlySpan<byte> protobuf, out ReadOnlySpan<byte> publicKey)
    {
        publicKey = default;
        if (!TryReadKey(protobuf, out int type, out var data) || type != 1 || data.Length != Ed25519PublicKeyLength)
            return false;
        publicKey = data;
        return true;
    }

    /// <summary>Decodes a serialized Ed25519 private key (64 bytes seed‖public, or a bare 32-byte seed).</summary>
    public static bool TryDecodeEd25519PrivateKey(ReadOnlySpan<byte> protobuf, out ReadOnlySpan<byte> seed)
    {
        seed = default;
        if (!TryReadKey(protobuf, out int type, out var data) || type != 1 || data.Length is not (64 or 32))
            return false;
        seed = data[..32];
        return true;
    }

    /// <summary>Reads the two fields in any order, rejecting unknown fields, duplicates and trailing bytes.</summary>
    private static bool TryReadKey(ReadOnlySpan<byte> protobuf, out int type, out ReadOnlySpan<byte> data)
    {
        type = -1;
        data = default;
        bool haveData = false;
        while (!protobuf.IsEmpty)
        {
            byte tag = protobuf[0];
            protobuf = protobuf[1..];
            if (tag == 0x08 && type < 0 && !protobuf.IsEmpty && protobuf[0] < 0x80)
            {
                type = protobuf[0];
                protobuf = protobuf[1..];
            }
            else if (tag == 0x12 && !haveData && !protobuf.IsEmpty && protobuf[0] < 0x80 && protobuf[0] <= protobuf.Length - 1)
            {
                int len = protobuf[0];
                data = protobuf.Slice(1, len);
                protobuf = protobuf[(1 + len)..];
                haveData = true;
            }
            else
            {
                return false;
            }
        }
        return type >= 0 && haveData;
    }
}

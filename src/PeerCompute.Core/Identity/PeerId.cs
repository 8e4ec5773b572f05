using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Core.Identity;

/// <summary>
/// A libp2p peer id: the multihash of the peer's serialized public key (identity multihash when the key
/// is at most 42 bytes, as every Ed25519 key is), shown as base58btc (<c>12D3KooW…</c>).
/// </summary>
public sealed class PeerId : IEquatable<PeerId>
{
    private const byte IdentityCode = 0x00;
    private const byte Sha256Code = 0x12;
    private const int MaxInlineKeyLength = 42;
    private const int LibP2pKeyCodec = 0x72;

    private readonly byte[] _multihash;
    private string? _text;

    private PeerId(byte[] multihash) => _multihash = multihash;

    public ReadOnlySpan<byte> Multihash => _multihash;

    public byte[] ToMultihash() => (byte[])_multihash.Clone();

    public static PeerId FromEd25519PublicKey(ReadOnlySpan<byte> publicKey) =>
        FromPublicKeyProtobuf(KeyProtobuf.EncodeEd25519PublicKey(publicKey));

    public static PeerId FromPublicKeyProtobuf(ReadOnlySpan<byte> serializedKey)
    {
        if (serializedKey.Length > MaxInlineKeyLength)
        {
            var hashed = new byte[34];
            hashed[0] = Sha256Code;
            hashed[1] = 32;
            System.Security.Cryptography.SHA256.HashData(serializedKey, hashed.AsSpan(2));
            return new PeerId(hashed);
        }
        var mh = new byte[2 + serializedKey.Length];
        mh[0] = IdentityCode;
        mh[1] = (byte)serializedKey.Length;
        serializedKey.CopyTo(mh.AsSpan(2));
        return new PeerId(mh);
    }

    public static PeerId FromMultihash(ReadOnlySpan<byte> multihash) =>
        TryFromMultihash(multihash, out var id) ? id : throw new FormatException("Not a peer id multihash.");

    public static bool TryFromMultihash(ReadOnlySpan<byte> multihash, [NotNullWhen(true)] out PeerId? peerId)
    {
        peerId = null;
        if (Varint.TryRead(multihash, out ulong code, out int used) != OperationStatus.Done)
            return false;
        var rest = multihash[used..];
        if (Varint.TryRead(rest, out ulong length, out used) != OperationStatus.Done)
            return false;
        rest = rest[used..];
        if ((ulong)rest.Length != length)
            return false;
        bool valid = code switch
        {
            IdentityCode => length <= MaxInlineKeyLength && length > 0,
            Sha256Code => length == 32,
            _ => false,
        };
        if (!valid)
            return false;
        peerId = new PeerId(multihash.ToArray());
        return true;
    }

    public static PeerId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"'{text}' is not a peer id (expected 12D3KooW… or a CID starting with 'b').");

    /// <summary>Accepts the base58btc form and the CIDv1 (libp2p-key, base32 'b') form.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out PeerId? peerId)
    {
        peerId = null;
        if (string.IsNullOrEmpty(text) || text.Length > 200)
            return false;
        if (text[0] == 'b' && Base32.TryDecode(text.AsSpan(1), out var cid))
        {
            // CIDv1: version 1, codec libp2p-key (0x72), multihash.
            if (Varint.TryRead(cid, out ulong version, out int used) == OperationStatus.Done && version == 1
                && Varint.TryRead(cid.AsSpan(used), out ulong codec, out int used2) == OperationStatus.Done && codec == LibP2pKeyCodec)
                return TryFromMultihash(cid.AsSpan(used + used2), out peerId);
        }
        return Base58.TryDecode(text, out var bytes) && TryFromMultihash(bytes, out peerId);
    }

    /// <summary>The Ed25519 public key inlined in an identity-multihash peer id.</summary>
    public bool TryGetEd25519PublicKey(out ReadOnlySpan<byte> publicKey)
    {
        publicKey = default;
        return _multihash[0] == IdentityCode && KeyProtobuf.TryDecodeEd25519PublicKey(_multihash.AsSpan(2), out publicKey);
    }

    public string ToCidString()
    {
        var cid = new byte[2 + _multihash.Length];
        cid[0] = 0x01;
        cid[1] = LibP2pKeyCodec;
        _multihash.CopyTo(cid.AsSpan(2));
        return "b" + Base32.EncodeLower(cid);
    }

    public override string ToString() => _text ??= Base58.Encode(_multihash);

    public bool Equals(PeerId? other) => other is not null && _multihash.AsSpan().SequenceEqual(other._multihash);

    public override bool Equals(object? obj) => obj is PeerId other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_multihash);
        return hash.ToHashCode();
    }

    public static bool operator ==(PeerId? left, PeerId? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(PeerId? left, PeerId? right) => !(left == right);
}

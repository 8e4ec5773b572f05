using NSec.Cryptography;

namespace PeerCompute.Core.Identity;

/// <summary>A peer's Ed25519 key pair and the PeerId derived from it.</summary>
public sealed class PeerIdentity : IDisposable
{
    public const int SignatureLength = 64;

    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private PeerIdentity(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        PublicKeyProtobuf = KeyProtobuf.EncodeEd25519PublicKey(PublicKey);
        PeerId = PeerId.FromPublicKeyProtobuf(PublicKeyProtobuf);
    }

    /// <summary>Raw 32-byte Ed25519 public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>libp2p serialized public key (<c>08 01 12 20</c> + key).</summary>
    public byte[] PublicKeyProtobuf { get; }

    public PeerId PeerId { get; }

    public static PeerIdentity Generate() =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    public static PeerIdentity FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != KeyProtobuf.Ed25519SeedLength)
            throw new ArgumentException("An Ed25519 seed is 32 bytes.", nameof(seed));
        return new(Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    public static bool TryFromPrivateKeyProtobuf(ReadOnlySpan<byte> protobuf, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PeerIdentity? identity)
    {
        identity = null;
        if (!KeyProtobuf.TryDecodeEd25519PrivateKey(protobuf, out var seed))
            return false;
        identity = FromSeed(seed);
        // When the blob carries the public half too, it must match the seed.
        if (protobuf.Length == KeyProtobuf.PrivateKeyProtobufLength && !protobuf[36..].SequenceEqual(identity.PublicKey))
        {
            identity.Dispose();
            identity = null;
            return false;
        }
        return true;
    }

    public byte[] ExportPrivateKeyProtobuf()
    {
        Span<byte> seed = stackalloc byte[32];
        try
        {
            if (!_key.TryExport(KeyBlobFormat.RawPrivateKey, seed, out int written) || written != 32)
                throw new InvalidOperationException("The identity key cannot be exported.");
            return KeyProtobuf.EncodeEd25519PrivateKey(seed, PublicKey);
        }
        finally
        {
            seed.Clear();
        }
    }

    public byte[] Sign(ReadOnlySpan<byte> data) => Algorithm.Sign(_key, data);

    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature) => Algorithm.Sign(_key, data, signature);

    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != KeyProtobuf.Ed25519PublicKeyLength || signature.Length != SignatureLength)
            return false;
        if (!NSec.Cryptography.PublicKey.TryImport(Algorithm, publicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
            return false;
        return Algorithm.Verify(key, data, signature);
    }

    /// <summary>Verifies a signature made by the key inlined in <paramref name="signer"/>.</summary>
    public static bool Verify(PeerId signer, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signer.TryGetEd25519PublicKey(out var publicKey) && Verify(publicKey, data, signature);

    public override string ToString() => PeerId.ToString();

    public void Dispose() => _key.Dispose();
}

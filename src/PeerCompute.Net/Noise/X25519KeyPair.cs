using NSec.Cryptography;

namespace PeerCompute.Net.Noise;

/// <summary>An X25519 key pair for Noise (static or ephemeral), via NSec.</summary>
internal sealed class X25519KeyPair : IDisposable
{
    private static readonly KeyAgreementAlgorithm Algorithm = KeyAgreementAlgorithm.X25519;
    private readonly Key _key;

    private X25519KeyPair(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public byte[] PublicKey { get; }

    public static X25519KeyPair Generate() => new(Key.Create(Algorithm));

    /// <summary>A key pair from a fixed 32-byte private key (tests and vectors).</summary>
    public static X25519KeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey) =>
        new(Key.Import(Algorithm, privateKey, KeyBlobFormat.RawPrivateKey));

    /// <summary>DH(this, remote): the raw 32-byte shared secret. Throws for a low-order remote key.</summary>
    public void Agree(ReadOnlySpan<byte> remotePublicKey, Span<byte> sharedSecret)
    {
        if (!NSec.Cryptography.PublicKey.TryImport(Algorithm, remotePublicKey, KeyBlobFormat.RawPublicKey, out var remote) || remote is null)
            throw new Libp2pProtocolException("noise: invalid X25519 public key");
        var parameters = new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        using var secret = Algorithm.Agree(_key, remote, in parameters)
            ?? throw new Libp2pProtocolException("noise: X25519 agreement failed (low-order key)");
        if (!secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, sharedSecret, out int written) || written != 32)
            throw new Libp2pProtocolException("noise: X25519 shared secret could not be exported");
    }

    public void Dispose() => _key.Dispose();
}

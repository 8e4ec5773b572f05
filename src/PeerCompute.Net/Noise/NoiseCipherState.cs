using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PeerCompute.Net.Noise;

/// <summary>Noise CipherState for ChaChaPoly: a key and a 64-bit counter; nonce = 4 zero bytes + counter little-endian.</summary>
internal sealed class NoiseCipherState : IDisposable
{
    public const int TagSize = 16;
    private readonly ChaCha20Poly1305 _aead;
    private ulong _nonce;

    public NoiseCipherState(ReadOnlySpan<byte> key) => _aead = new ChaCha20Poly1305(key);

    public ulong Nonce => _nonce;

    /// <summary>Writes ciphertext then tag to <paramref name="destination"/> (plaintext.Length + 16 bytes). In place is allowed.</summary>
    public void Encrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        _aead.Encrypt(nonce, plaintext, destination[..plaintext.Length], destination.Slice(plaintext.Length, TagSize), associatedData);
    }

    /// <summary>Decrypts ciphertext‖tag into <paramref name="destination"/> (ciphertext.Length - 16 bytes); false when the tag is wrong.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> destination)
    {
        if (ciphertextAndTag.Length < TagSize)
            return false;
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        int length = ciphertextAndTag.Length - TagSize;
        try
        {
            _aead.Decrypt(nonce, ciphertextAndTag[..length], ciphertextAndTag[length..], destination[..length], associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private void NextNonce(Span<byte> nonce)
    {
        if (_nonce == ulong.MaxValue)
            throw new Libp2pProtocolException("noise: nonce exhausted");
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce++);
    }

    public void Dispose() => _aead.Dispose();
}

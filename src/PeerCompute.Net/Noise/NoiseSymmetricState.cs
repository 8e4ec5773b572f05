using System.Security.Cryptography;

namespace PeerCompute.Net.Noise;

/// <summary>Noise SymmetricState with SHA-256: chaining key, handshake hash and the current handshake cipher.</summary>
internal sealed class NoiseSymmetricState : IDisposable
{
    public const int HashLength = 32;
    private readonly byte[] _ck = new byte[HashLength];
    private readonly byte[] _h = new byte[HashLength];
    private NoiseCipherState? _cipher;

    public NoiseSymmetricState(ReadOnlySpan<byte> protocolName)
    {
        // A 32-byte name is used as h directly; longer ones would be hashed (not needed for our one name).
        if (protocolName.Length != HashLength)
            throw new ArgumentException("The protocol name must be 32 bytes.", nameof(protocolName));
        protocolName.CopyTo(_h);
        protocolName.CopyTo(_ck);
    }

    public ReadOnlySpan<byte> HandshakeHash => _h;

    public bool HasKey => _cipher is not null;

    public void MixHash(ReadOnlySpan<byte> data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(_h);
        sha.AppendData(data);
        sha.GetHashAndReset(_h);
    }

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> key = stackalloc byte[HashLength];
        Hkdf(_ck, inputKeyMaterial, _ck, key);
        _cipher?.Dispose();
        _cipher = new NoiseCipherState(key);
        key.Clear();
    }

    /// <summary>Returns the bytes written to <paramref name="destination"/> (plaintext length, + 16 once keyed).</summary>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        int length = plaintext.Length;
        if (_cipher is null)
        {
            plaintext.CopyTo(destination);
        }
        else
        {
            _cipher.Encrypt(_h, plaintext, destination);
            length += NoiseCipherState.TagSize;
        }
        MixHash(destination[..length]);
        return length;
    }

    /// <summary>Returns the plaintext length written to <paramref name="destination"/>; throws on a bad tag.</summary>
    public int DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        int length;
        if (_cipher is null)
        {
            ciphertext.CopyTo(destination);
            length = ciphertext.Length;
        }
        else
        {
            length = ciphertext.Length - NoiseCipherState.TagSize;
            if (length < 0 || !_cipher.TryDecrypt(_h, ciphertext, destination))
                throw new Libp2pProtocolException("noise: handshake message failed to decrypt");
        }
        MixHash(ciphertext);
        return length;
    }

    /// <summary>The two transport keys (initiator→responder, responder→initiator).</summary>
    public (NoiseCipherState First, NoiseCipherState Second) Split()
    {
        Span<byte> k1 = stackalloc byte[HashLength];
        Span<byte> k2 = stackalloc byte[HashLength];
        Hkdf(_ck, [], k1, k2);
        var result = (new NoiseCipherState(k1), new NoiseCipherState(k2));
        k1.Clear();
        k2.Clear();
        return result;
    }

    /// <summary>Noise HKDF with two outputs: t = HMAC(ck, ikm); o1 = HMAC(t, 0x01); o2 = HMAC(t, o1 ‖ 0x02).</summary>
    internal static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2)
    {
        Span<byte> temp = stackalloc byte[HashLength];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, temp);
        Span<byte> o1 = stackalloc byte[HashLength];
        HMACSHA256.HashData(temp, [0x01], o1);
        Span<byte> input2 = stackalloc byte[HashLength + 1];
        o1.CopyTo(input2);
        input2[HashLength] = 0x02;
        HMACSHA256.HashData(temp, input2, output2);
        o1.CopyTo(output1);
        temp.Clear();
        o1.Clear();
    }

    public void Dispose()
    {
        _cipher?.Dispose();
        CryptographicOperations.ZeroMemory(_ck);
    }
}

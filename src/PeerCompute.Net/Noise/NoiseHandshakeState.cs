namespace PeerCompute.Net.Noise;

/// <summary>
/// The Noise XX pattern (<c>Noise_XX_25519_ChaChaPoly_SHA256</c>, empty prologue) as a synchronous state machine:
/// <c>-> e</c>, <c>&lt;- e, ee, s, es</c>, <c>-> s, se</c>. Each call handles one message over spans.
/// </summary>
internal sealed class NoiseHandshakeState : IDisposable
{
    public const int DhLength = 32;
    public static ReadOnlySpan<byte> ProtocolName => "Noise_XX_25519_ChaChaPoly_SHA256"u8;

    private readonly NoiseSymmetricState _symmetric;
    private readonly X25519KeyPair _static;
    private readonly X25519KeyPair _ephemeral;
    private readonly byte[] _remoteEphemeral = new byte[DhLength];
    private readonly byte[] _remoteStatic = new byte[DhLength];
    private int _step;

    public NoiseHandshakeState(bool initiator, X25519KeyPair staticKey, X25519KeyPair ephemeralKey)
    {
        IsInitiator = initiator;
        _static = staticKey;
        _ephemeral = ephemeralKey;
        _symmetric = new NoiseSymmetricState(ProtocolName);
        _symmetric.MixHash([]); // the empty prologue still goes into h
    }

    public bool IsInitiator { get; }

    public bool IsComplete => _step == 3;

    /// <summary>Messages handled so far (0 to 3).</summary>
    public int Step => _step;

    public ReadOnlySpan<byte> RemoteStaticKey => _remoteStatic;

    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>True when the next step is ours to write.</summary>
    public bool IsMyTurn => (_step % 2 == 0) == IsInitiator;

    /// <summary>Upper bound of the message written for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int MaxMessageLength(int payloadLength) => 2 * DhLength + 2 * NoiseCipherState.TagSize + payloadLength;

    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (!IsMyTurn || IsComplete)
            throw new InvalidOperationException("noise: not our turn to write");
        int n = 0;
        Span<byte> dh = stackalloc byte[DhLength];
        switch (_step)
        {
            case 0: // -> e
                _ephemeral.PublicKey.CopyTo(destination);
                _symmetric.MixHash(_ephemeral.PublicKey);
                n = DhLength;
                break;
            case 1: // <- e, ee, s, es
                _ephemeral.PublicKey.CopyTo(destination);
                _symmetric.MixHash(_ephemeral.PublicKey);
                n = DhLength;
                _ephemeral.Agree(_remoteEphemeral, dh);
                _symmetric.MixKey(dh);
                n += _symmetric.EncryptAndHash(_static.PublicKey, destination[n..]);
                _static.Agree(_remoteEphemeral, dh);
                _symmetric.MixKey(dh);
                break;
            case 2: // -> s, se
                n = _symmetric.EncryptAndHash(_static.PublicKey, destination);
                _static.Agree(_remoteEphemeral, dh);
                _symmetric.MixKey(dh);
                break;
        }
        dh.Clear();
        n += _symmetric.EncryptAndHash(payload, destination[n..]);
        _step++;
        return n;
    }

    /// <summary>Reads a message; returns the payload length written to <paramref name="payload"/>.</summary>
    public int ReadMessage(ReadOnlySpan<byte> message, Span<byte> payload)
    {
        if (IsMyTurn || IsComplete)
            throw new InvalidOperationException("noise: not our turn to read");
        Span<byte> dh = stackalloc byte[DhLength];
        switch (_step)
        {
            case 0: // -> e
                Need(message, DhLength);
                message[..DhLength].CopyTo(_remoteEphemeral);
                _symmetric.MixHash(_remoteEphemeral);
                message = message[DhLength..];
                break;
            case 1: // <- e, ee, s, es
                Need(message, 2 * DhLength + NoiseCipherState.TagSize);
                message[..DhLength].CopyTo(_remoteEphemeral);
                _symmetric.MixHash(_remoteEphemeral);
                message = message[DhLength..];
                _ephemeral.Agree(_remoteEphemeral, dh);
                _symmetric.MixKey(dh);
                _symmetric.DecryptAndHash(message[..(DhLength + NoiseCipherState.TagSize)], _remoteStatic);
                message = message[(DhLength + NoiseCipherState.TagSize)..];
                _ephemeral.Agree(_remoteStatic, dh);
                _symmetric.MixKey(dh);
                break;
            case 2: // -> s, se
                Need(message, DhLength + NoiseCipherState.TagSize);
                _symmetric.DecryptAndHash(message[..(DhLength + NoiseCipherState.TagSize)], _remoteStatic);
                message = message[(DhLength + NoiseCipherState.TagSize)..];
                _ephemeral.Agree(_remoteStatic, dh);
                _symmetric.MixKey(dh);
                break;
        }
        dh.Clear();
        int length = _symmetric.DecryptAndHash(message, payload);
        _step++;
        return length;
    }

    /// <summary>After the last message: (send, receive) transport ciphers for this side.</summary>
    public (NoiseCipherState Send, NoiseCipherState Receive) Split()
    {
        if (!IsComplete)
            throw new InvalidOperationException("noise: handshake not complete");
        var (first, second) = _symmetric.Split();
        return IsInitiator ? (first, second) : (second, first);
    }

    private static void Need(ReadOnlySpan<byte> message, int length)
    {
        if (message.Length < length)
            throw new Libp2pProtocolException($"noise: handshake message of {message.Length} bytes is too short");
    }

    public void Dispose() => _symmetric.Dispose();
}

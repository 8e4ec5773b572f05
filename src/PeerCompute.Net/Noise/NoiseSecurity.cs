using System.Buffers;
using System.Buffers.Binary;
using PeerCompute.Core.Identity;

namespace PeerCompute.Net.Noise;

/// <summary>The outcome of a Noise handshake: the encrypted channel and who is on the other end.</summary>
internal sealed record NoiseConnection(NoiseStream Stream, PeerId RemotePeer, byte[] RemoteIdentityKey, IReadOnlyList<string> RemoteStreamMuxers);

/// <summary>
/// libp2p's <c>/noise</c> security: the XX handshake carrying each side's identity key, a signature over its
/// Noise static key, and the stream muxers it offers. Any failure (bad message, bad signature, unexpected peer)
/// throws <see cref="Libp2pProtocolException"/>; the caller then drops the connection.
/// </summary>
internal static class NoiseSecurity
{
    public const string ProtocolId = "/noise";

    /// <summary>Dials: <paramref name="expectedRemote"/> (the <c>/p2p/</c> id that was dialled), when given, must match.</summary>
    public static Task<NoiseConnection> SecureOutboundAsync(Stream transport, PeerIdentity identity, PeerId? expectedRemote,
        IReadOnlyList<string> streamMuxers, CancellationToken cancellationToken)
    {
        var staticKey = X25519KeyPair.Generate();
        return HandshakeAsync(transport, initiator: true, identity, staticKey, X25519KeyPair.Generate(), expectedRemote, streamMuxers, cancellationToken);
    }

    public static Task<NoiseConnection> SecureInboundAsync(Stream transport, PeerIdentity identity,
        IReadOnlyList<string> streamMuxers, CancellationToken cancellationToken)
    {
        var staticKey = X25519KeyPair.Generate();
        return HandshakeAsync(transport, initiator: false, identity, staticKey, X25519KeyPair.Generate(), null, streamMuxers, cancellationToken);
    }

    /// <summary>The handshake with given X25519 keys (the vector test injects fixed ones). Takes ownership of both keys.</summary>
    internal static async Task<NoiseConnection> HandshakeAsync(Stream transport, bool initiator, PeerIdentity identity,
        X25519KeyPair staticKey, X25519KeyPair ephemeralKey, PeerId? expectedRemote, IReadOnlyList<string> streamMuxers,
        CancellationToken cancellationToken)
    {
        using var keys = new KeysScope(staticKey, ephemeralKey);
        using var state = new NoiseHandshakeState(initiator, staticKey, ephemeralKey);
        byte[] ownPayload = CreatePayload(identity, staticKey.PublicKey, streamMuxers).Encode();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(NoiseStream.MaxMessageLength + 2);
        byte[] payload = ArrayPool<byte>.Shared.Rent(NoiseStream.MaxMessageLength);
        try
        {
            NoiseHandshakePayload? remote = null;
            while (!state.IsComplete)
            {
                if (state.IsMyTurn)
                {
                    // msg1 carries no payload; msg2 (responder) and msg3 (initiator) carry ours.
                    ReadOnlySpan<byte> mine = state.Step == 0 ? [] : ownPayload;
                    int length = state.WriteMessage(mine, buffer.AsSpan(2));
                    if (length > NoiseStream.MaxMessageLength)
                        throw new Libp2pProtocolException("noise: our handshake message is too large");
                    BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)length);
                    await transport.WriteAsync(buffer.AsMemory(0, 2 + length), cancellationToken).ConfigureAwait(false);
                    await transport.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    // Exactly one frame: the header, then the body it announces (the next frame may be a yamux one).
                    int have = 0, length;
                    while (NoiseFrame.TryRead(buffer.AsSpan(0, have), 0, out length, out _) != OperationStatus.Done)
                    {
                        int want = NoiseFrame.MissingBytes(buffer.AsSpan(0, have));
                        await ReadExactlyAsync(transport, buffer.AsMemory(have, want), cancellationToken).ConfigureAwait(false);
                        have += want;
                    }
                    int step = state.Step;
                    int payloadLength = state.ReadMessage(buffer.AsSpan(NoiseFrame.HeaderLength, length), payload);
                    // msg2 (read by the initiator) and msg3 (read by the responder) carry the peer's payload.
                    if (step > 0)
                        remote = VerifyPayload(payload.AsSpan(0, payloadLength), state.RemoteStaticKey);
                }
            }
            if (remote is null)
                throw new Libp2pProtocolException("noise: the peer sent no identity");
            var remotePeer = PeerId.FromPublicKeyProtobuf(remote.IdentityKey);
            if (expectedRemote is not null && remotePeer != expectedRemote)
                throw new Libp2pProtocolException($"noise: dialled {expectedRemote} but the peer is {remotePeer}") { ActualPeer = remotePeer };
            var (send, receive) = state.Split();
            return new NoiseConnection(new NoiseStream(transport, send, receive), remotePeer, remote.IdentityKey, remote.StreamMuxers);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(payload, clearArray: true);
        }
    }

    internal static NoiseHandshakePayload CreatePayload(PeerIdentity identity, ReadOnlySpan<byte> staticPublicKey, IReadOnlyList<string> streamMuxers)
    {
        var signed = new byte[NoiseHandshakePayload.SignaturePrefix.Length + staticPublicKey.Length];
        NoiseHandshakePayload.SignaturePrefix.CopyTo(signed);
        staticPublicKey.CopyTo(signed.AsSpan(NoiseHandshakePayload.SignaturePrefix.Length));
        return new NoiseHandshakePayload(identity.PublicKeyProtobuf, identity.Sign(signed), streamMuxers);
    }

    /// <summary>Decodes the peer's payload and checks that its identity key signed its Noise static key.</summary>
    internal static NoiseHandshakePayload VerifyPayload(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> remoteStaticKey)
    {
        var payload = NoiseHandshakePayload.Decode(bytes);
        if (!KeyProtobuf.TryDecodeEd25519PublicKey(payload.IdentityKey, out var publicKey))
            throw new Libp2pProtocolException("noise: the peer's identity key is not an Ed25519 key");
        var signed = new byte[NoiseHandshakePayload.SignaturePrefix.Length + remoteStaticKey.Length];
        NoiseHandshakePayload.SignaturePrefix.CopyTo(signed);
        remoteStaticKey.CopyTo(signed.AsSpan(NoiseHandshakePayload.SignaturePrefix.Length));
        if (!PeerIdentity.Verify(publicKey, signed, payload.IdentitySignature))
            throw new Libp2pProtocolException("noise: the peer's signature over its static key is invalid");
        return payload;
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw new Libp2pProtocolException("noise: the peer closed the connection during the handshake");
        }
    }

    private sealed class KeysScope(X25519KeyPair a, X25519KeyPair b) : IDisposable
    {
        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }
}

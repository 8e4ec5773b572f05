using System.Security.Cryptography;
using PeerCompute.Net.Noise;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Noise;

public class NoiseVectorTests
{
    private static readonly string[] Yamux = ["/yamux/1.0.0"];

    [Test]
    public async Task Static_and_ephemeral_public_keys_match_the_vectors()
    {
        using var sI = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x11));
        using var sR = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x22));
        using var eR = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x44));
        await Assert.That(Hex.Of(sI.PublicKey)).IsEqualTo("7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13");
        await Assert.That(Hex.Of(sR.PublicKey)).IsEqualTo("0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20");
        await Assert.That(Hex.Of(eR.PublicKey)).IsEqualTo("ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b");
    }

    [Test]
    public async Task Handshake_payloads_match_the_vectors()
    {
        using var initiator = Vectors.FirstIdentity();
        using var responder = Vectors.SeedOnesIdentity();
        using var sI = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x11));
        using var sR = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x22));
        await Assert.That(Hex.Of(NoiseSecurity.CreatePayload(responder, sR.PublicKey, Yamux).Encode())).IsEqualTo(Vectors.PayloadR);
        await Assert.That(Hex.Of(NoiseSecurity.CreatePayload(initiator, sI.PublicKey, Yamux).Encode())).IsEqualTo(Vectors.PayloadI);
    }

    [Test]
    public async Task The_full_XX_transcript_matches_byte_for_byte()
    {
        using var sI = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x11));
        using var eI = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x33));
        using var sR = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x22));
        using var eR = X25519KeyPair.FromPrivateKey(Vectors.Filled(0x44));
        using var initiator = new NoiseHandshakeState(true, sI, eI);
        using var responder = new NoiseHandshakeState(false, sR, eR);
        var buffer = new byte[1024];
        var payload = new byte[1024];

        int n = initiator.WriteMessage([], buffer);
        await Assert.That(Hex.Of(buffer.AsSpan(0, n))).IsEqualTo(Vectors.Msg1);
        await Assert.That(responder.ReadMessage(buffer.AsSpan(0, n), payload)).IsEqualTo(0);

        n = responder.WriteMessage(Hex.Bytes(Vectors.PayloadR), buffer);
        await Assert.That(Hex.Of(buffer.AsSpan(0, n))).IsEqualTo(Vectors.Msg2);
        int p = initiator.ReadMessage(buffer.AsSpan(0, n), payload);
        await Assert.That(Hex.Of(payload.AsSpan(0, p))).IsEqualTo(Vectors.PayloadR);
        await Assert.That(Hex.Of(initiator.RemoteStaticKey)).IsEqualTo(Hex.Of(sR.PublicKey));

        n = initiator.WriteMessage(Hex.Bytes(Vectors.PayloadI), buffer);
        await Assert.That(Hex.Of(buffer.AsSpan(0, n))).IsEqualTo(Vectors.Msg3);
        p = responder.ReadMessage(buffer.AsSpan(0, n), payload);
        await Assert.That(Hex.Of(payload.AsSpan(0, p))).IsEqualTo(Vectors.PayloadI);

        await Assert.That(Hex.Of(initiator.HandshakeHash)).IsEqualTo(Vectors.FinalHash);
        await Assert.That(Hex.Of(responder.HandshakeHash)).IsEqualTo(Vectors.FinalHash);

        var (iSend, iReceive) = initiator.Split();
        var (rSend, rReceive) = responder.Split();
        var hello = "hello"u8.ToArray();
        var world = "world"u8.ToArray();
        var sealedBytes = new byte[21];
        iSend.Encrypt([], hello, sealedBytes);
        await Assert.That(Hex.Of(sealedBytes)).IsEqualTo("ba55be97fa66e48a762932740de22240fe3f66270c");
        await Assert.That(Hex.Of(EncryptWith(Vectors.K1, 0, hello))).IsEqualTo("ba55be97fa66e48a762932740de22240fe3f66270c");
        var opened = new byte[5];
        await Assert.That(rReceive.TryDecrypt([], sealedBytes, opened)).IsTrue();
        rSend.Encrypt([], world, sealedBytes);
        await Assert.That(Hex.Of(sealedBytes)).IsEqualTo("638f8a7cd0f5ef74f6817cf13c08d796ad1620b062");
        await Assert.That(Hex.Of(EncryptWith(Vectors.K2, 0, world))).IsEqualTo("638f8a7cd0f5ef74f6817cf13c08d796ad1620b062");
        await Assert.That(iReceive.TryDecrypt([], sealedBytes, opened)).IsTrue();
        iSend.Encrypt([], hello, sealedBytes);
        await Assert.That(Hex.Of(sealedBytes)).IsEqualTo("54184620c7e76189de6393f936c9d714cdb762c9d3");
    }

    [Test]
    public async Task The_async_handshake_with_fixed_keys_authenticates_both_peers_and_carries_the_vectors()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var tapA = new RecordingStream(a);
        using var initiatorId = Vectors.FirstIdentity();
        using var responderId = Vectors.SeedOnesIdentity();
        var dialing = NoiseSecurity.HandshakeAsync(tapA, true, initiatorId, X25519KeyPair.FromPrivateKey(Vectors.Filled(0x11)),
            X25519KeyPair.FromPrivateKey(Vectors.Filled(0x33)), responderId.PeerId, Yamux, CancellationToken.None);
        var answering = NoiseSecurity.HandshakeAsync(b, false, responderId, X25519KeyPair.FromPrivateKey(Vectors.Filled(0x22)),
            X25519KeyPair.FromPrivateKey(Vectors.Filled(0x44)), null, Yamux, CancellationToken.None);
        var dialer = await dialing.WaitAsync(TimeSpan.FromSeconds(30));
        var listener = await answering.WaitAsync(TimeSpan.FromSeconds(30));

        await Assert.That(dialer.RemotePeer.ToString()).IsEqualTo(Vectors.SeedOnesPeerId);
        await Assert.That(listener.RemotePeer.ToString()).IsEqualTo(Vectors.FirstPeerId);
        await Assert.That(string.Join(",", dialer.RemoteStreamMuxers)).IsEqualTo("/yamux/1.0.0");

        await dialer.Stream.WriteAsync("hello"u8.ToArray());
        await dialer.Stream.FlushAsync();
        var got = new byte[5];
        await listener.Stream.ReadExactlyAsync(got);
        await Assert.That(System.Text.Encoding.ASCII.GetString(got)).IsEqualTo("hello");
        await Assert.That(Hex.Of(tapA.Written.ToArray())).IsEqualTo(
            "0020" + Vectors.Msg1 + "00b8" + Vectors.Msg3 + "0015" + "ba55be97fa66e48a762932740de22240fe3f66270c");
    }

    private static byte[] EncryptWith(string keyHex, ulong nonce, byte[] plaintext)
    {
        using var aead = new ChaCha20Poly1305(Hex.Bytes(keyHex));
        var n = new byte[12];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(n.AsSpan(4), nonce);
        var output = new byte[plaintext.Length + 16];
        aead.Encrypt(n, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length), []);
        return output;
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Net;
using PeerCompute.Net.Noise;

namespace PeerCompute.Fuzz.Targets;

/// <summary>Keys of the Noise XX test-vector transcript (tests/PeerCompute.Net.Tests/Support/Vectors.cs), so seeds replay a real handshake.</summary>
internal static class NoiseVectors
{
    public static readonly byte[] InitiatorIdentitySeed = Convert.FromHexString("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d");
    public static readonly byte[] ResponderIdentitySeed = Enumerable.Repeat((byte)0x01, 32).ToArray();
    public static readonly byte[] PayloadR = Convert.FromHexString("0a24080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c1240246d43e960be67ad57094023dc4575126f441c320b9ddc27b2dda580e884891e3892478d03ebccbcfb5f84c603e1e6dded40e75e134ba8843bd09082a3df6108220e120c2f79616d75782f312e302e30");
    public static readonly byte[] PayloadI = Convert.FromHexString("0a24080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1240a32c5aaa2b9fd56ceb93f81f7dfaef0e32c2a504eee17d4dc53911da77267942bdf29f2336f2e33b0c45d8c687fec4015321e8d984e8eb71a369f6352664960d220e120c2f79616d75782f312e302e30");
    public static readonly byte[] Msg1 = Convert.FromHexString("7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14");
    public static readonly byte[] Msg2 = Convert.FromHexString("ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6bfcadb15080d9fd0434a18565751d3b6022bec571f33b6212486a1bffa54d1a1ee7712455070d4e3666e35c1eca6c109ed4e7d1b5c88bd8eb8a9245e61a6604c138b4d208576223707d63bcf2ac4d5e48d9883a68c92fa526a3d90de907b07855d34e52b018eb4c8c0fee3557caef2cfcd6ccde5043a27cef6350653797187a122b64f0a588eacdc2851498999fb8d2a96aa22509fca371dbacf2365a8c57d730cbff4ff1920ce3c725ffd25e5d8e564bf2b6042945072d5e");
    public static readonly byte[] Msg3 = Convert.FromHexString("a7ea7dd47dddbcfcd736b91b174c6107b2ad26c161965a119a7b644e0c6b3d067256a8fead23b8c73c21a399fc8cba0e7b9e4620d57d286e3be17bd0862e48168b5d863f1ff2a7566343a1193a78b1846fdc5f27e59cd95bb1594007e59d42e50ec4996691c340363e4899a9bf61cc9144c30497343c887bc558ce89383924ae0f820cc54bd0fb4c78548f2a4a1121908ea4a1c534e9c4c31f922b4ac4def4088ea98448d7f9ec92153771f7549a5f2a45a5632b91cff0b6");
    public static readonly byte[] ResponderStaticPublic = Convert.FromHexString("0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20");
    public static readonly byte[] InitiatorStaticPublic = Convert.FromHexString("7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13");

    public static byte[] Framed(params byte[][] messages) =>
        [.. messages.SelectMany(m => (byte[])[(byte)(m.Length >> 8), (byte)m.Length, .. m])];
}

/// <summary>
/// The Noise handshake payload protobuf: Decode gives a payload or <see cref="Libp2pProtocolException"/>; a decoded
/// payload re-encodes to bytes that decode to the same fields; signature checking (VerifyPayload) refuses only with
/// the same exception. Input: the payload bytes; byte 0 picks which static key the signature is checked against.
/// </summary>
public sealed class NoisePayloadTarget : FuzzTarget
{
    public override string Name => "noise-payload";
    public override string Description => "NoiseHandshakePayload.Decode/Encode, NoiseSecurity.VerifyPayload";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var staticKey = (input[0] & 1) == 0 ? NoiseVectors.ResponderStaticPublic : NoiseVectors.InitiatorStaticPublic;
        var bytes = input[1..];
        NoiseHandshakePayload payload;
        try
        {
            payload = NoiseHandshakePayload.Decode(bytes);
        }
        catch (Libp2pProtocolException)
        {
            return;
        }
        Check(payload.IdentityKey is not null && payload.IdentitySignature is not null && payload.StreamMuxers.All(m => m is not null), "a decoded payload with null parts");
        var again = NoiseHandshakePayload.Decode(payload.Encode());
        Check(again.IdentityKey.AsSpan().SequenceEqual(payload.IdentityKey) && again.IdentitySignature.AsSpan().SequenceEqual(payload.IdentitySignature)
            && again.StreamMuxers.SequenceEqual(payload.StreamMuxers), "payload round trip changed a field");
        try
        {
            NoiseSecurity.VerifyPayload(bytes, staticKey);
        }
        catch (Libp2pProtocolException)
        {
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("payload-r", [0, .. NoiseVectors.PayloadR]);
        yield return ("payload-i", [1, .. NoiseVectors.PayloadI]);
        yield return ("payload-r-wrong-key", [1, .. NoiseVectors.PayloadR]);
        yield return ("unknown-fields", [0, 0x18, 0x05, 0x2d, 1, 2, 3, 4, .. NoiseVectors.PayloadR]);
        yield return ("truncated", [0, .. NoiseVectors.PayloadR[..40]]);
    }
}

/// <summary>
/// The Noise XX handshake reading the peer's messages (length prefix and message), as responder or initiator, with
/// the fixed keys of the wire test vectors (so the seeds complete a real handshake). Only
/// <see cref="Libp2pProtocolException"/> may come out. Input: byte 0 = role (bit 0) and read chunk, then the peer's bytes.
/// </summary>
public sealed class NoiseHandshakeTarget : FuzzTarget
{
    private static readonly PeerIdentity Initiator = PeerIdentity.FromSeed(NoiseVectors.InitiatorIdentitySeed);
    private static readonly PeerIdentity Responder = PeerIdentity.FromSeed(NoiseVectors.ResponderIdentitySeed);

    private static long s_completed;

    /// <summary>Handshakes that finished (the vector seeds must, or the target never reaches the payload).</summary>
    public static long CompletedHandshakes => Interlocked.Read(ref s_completed);

    public override string Name => "noise-handshake";
    public override string Description => "NoiseSecurity handshake (message lengths, XX messages, payloads), both roles";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        bool initiator = (input[0] & 1) == 1;
        var transport = new InputOutputStream(input[1..].ToArray(), 1 + (input[0] >> 1));
        try
        {
            var connection = Await(ct => initiator
                ? NoiseSecurity.HandshakeAsync(transport, true, Initiator, X25519KeyPair.FromPrivateKey(Fill(0x11)), X25519KeyPair.FromPrivateKey(Fill(0x33)), null, ["/yamux/1.0.0"], ct)
                : NoiseSecurity.HandshakeAsync(transport, false, Responder, X25519KeyPair.FromPrivateKey(Fill(0x22)), X25519KeyPair.FromPrivateKey(Fill(0x44)), null, ["/yamux/1.0.0"], ct));
            var expected = initiator ? Responder.PeerId : Initiator.PeerId;
            // Only a peer holding the vector keys can finish; it must be the one they name.
            Check(connection.RemotePeer == expected, $"handshake completed with an unexpected peer {connection.RemotePeer}");
            Interlocked.Increment(ref s_completed);
        }
        catch (Libp2pProtocolException)
        {
        }
    }

    private static byte[] Fill(byte value) => Enumerable.Repeat(value, 32).ToArray();

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("responder-msg1-msg3", [0, .. NoiseVectors.Framed(NoiseVectors.Msg1, NoiseVectors.Msg3)]);
        yield return ("responder-chunked", [6, .. NoiseVectors.Framed(NoiseVectors.Msg1, NoiseVectors.Msg3)]);
        yield return ("initiator-msg2", [1, .. NoiseVectors.Framed(NoiseVectors.Msg2)]);
        yield return ("responder-msg1-with-payload", [0, .. NoiseVectors.Framed([.. NoiseVectors.Msg1, 1, 2, 3])]);
        yield return ("responder-short-msg1", [0, 0, 4, 1, 2, 3, 4]);
        yield return ("initiator-zero-key", [1, .. NoiseVectors.Framed(new byte[96])]);
    }
}

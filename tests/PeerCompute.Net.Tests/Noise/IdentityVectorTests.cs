using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Noise;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Noise;

/// <summary>The PeerId, multiaddr and signature vectors of Support/Vectors.cs (captured against js-libp2p), as the Noise layer relies on them.</summary>
public class IdentityVectorTests
{
    [Test]
    public async Task The_first_key_gives_the_vector_peer_id_in_both_text_forms()
    {
        using var identity = Vectors.FirstIdentity();
        await Assert.That(Hex.Of(identity.PublicKeyProtobuf)).IsEqualTo("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
        await Assert.That(identity.PeerId.ToString()).IsEqualTo(Vectors.FirstPeerId);
        await Assert.That(identity.PeerId.ToCidString()).IsEqualTo("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6");
        await Assert.That(PeerId.Parse("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6")).IsEqualTo(identity.PeerId);
    }

    [Test]
    public async Task Seed_ones_and_a_foreign_peer_id_decode_to_the_vector_keys()
    {
        using var ones = Vectors.SeedOnesIdentity();
        await Assert.That(Hex.Of(ones.PublicKey)).IsEqualTo("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
        await Assert.That(ones.PeerId.ToString()).IsEqualTo(Vectors.SeedOnesPeerId);
        var other = PeerId.Parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
        await Assert.That(PublicKeyHex(other)).IsEqualTo("2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b");
    }

    private static string PublicKeyHex(PeerId id) => id.TryGetEd25519PublicKey(out var key) ? Hex.Of(key) : "";

    [Test]
    public async Task The_multiaddr_vector_round_trips()
    {
        var address = Multiaddr.Parse("/ip4/192.0.2.42/tcp/443");
        await Assert.That(Hex.Of(address.ToBytes())).IsEqualTo("04c000022a0601bb");
        await Assert.That(Multiaddr.FromBytes(Hex.Bytes("04c000022a0601bb")).ToString()).IsEqualTo("/ip4/192.0.2.42/tcp/443");
    }

    [Test]
    public async Task The_static_key_signature_vector_verifies_and_is_reproduced()
    {
        using var identity = Vectors.FirstIdentity();
        var staticKey = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var signed = NoiseHandshakePayload.SignaturePrefix.ToArray().Concat(staticKey).ToArray();
        const string expected = "6748f6f4c32e36aa2ef8df283a99a76275a9358b224844c53ced6ae4789262d00a86a6fe47a578ae243faa2a3ed9f4fd22d1bc38527f4797548e568ca43f500c";
        await Assert.That(Hex.Of(identity.Sign(signed))).IsEqualTo(expected);
        var payload = new NoiseHandshakePayload(identity.PublicKeyProtobuf, Hex.Bytes(expected), []).Encode();
        var verified = NoiseSecurity.VerifyPayload(payload, staticKey);
        await Assert.That(PeerId.FromPublicKeyProtobuf(verified.IdentityKey)).IsEqualTo(identity.PeerId);
        await Assert.That(() => NoiseSecurity.VerifyPayload(payload, staticKey.Reverse().ToArray())).Throws<Libp2pProtocolException>();
    }
}

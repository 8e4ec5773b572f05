using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Tests;

/// <summary>Vectors captured against js-libp2p (listed in docs/ARCHITECTURE.md, "Test vectors").</summary>
public class PeerIdTests
{
    private const string PrivateKeyProtobuf = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string PublicKeyProtobuf = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string PeerIdText = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    private const string Cid = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";

    [Test]
    public async Task Private_key_vector_gives_the_expected_public_key_and_peer_id()
    {
        await Assert.That(PeerIdentity.TryFromPrivateKeyProtobuf(Hex.Bytes(PrivateKeyProtobuf), out var identity)).IsTrue();
        using (identity)
        {
            await Assert.That(Hex.Of(identity!.PublicKeyProtobuf)).IsEqualTo(PublicKeyProtobuf);
            await Assert.That(identity.PeerId.ToString()).IsEqualTo(PeerIdText);
            await Assert.That(identity.PeerId.ToCidString()).IsEqualTo(Cid);
            await Assert.That(Hex.Of(identity.ExportPrivateKeyProtobuf())).IsEqualTo(PrivateKeyProtobuf);
        }
    }

    [Test]
    public async Task Cid_form_parses_to_the_same_peer()
    {
        await Assert.That(PeerId.Parse(Cid)).IsEqualTo(PeerId.Parse(PeerIdText));
    }

    [Test]
    public async Task Peer_id_text_decodes_to_its_public_key()
    {
        var id = PeerId.Parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
        string? key = id.TryGetEd25519PublicKey(out var span) ? Hex.Of(span) : null;
        await Assert.That(key).IsEqualTo("2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b");
    }

    [Test]
    public async Task Seed_of_ones_gives_the_expected_identity()
    {
        using var identity = PeerIdentity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        await Assert.That(Hex.Of(identity.PublicKey)).IsEqualTo("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
        await Assert.That(identity.PeerId.ToString()).IsEqualTo("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
    }

    [Test]
    public async Task Signature_vector_matches_and_verifies()
    {
        PeerIdentity.TryFromPrivateKeyProtobuf(Hex.Bytes(PrivateKeyProtobuf), out var identity);
        using (identity)
        {
            byte[] message = [.. "noise-libp2p-static-key:"u8, .. Enumerable.Range(0, 32).Select(i => (byte)i)];
            var signature = identity!.Sign(message);
            await Assert.That(Hex.Of(signature)).IsEqualTo("6748f6f4c32e36aa2ef8df283a99a76275a9358b224844c53ced6ae4789262d00a86a6fe47a578ae243faa2a3ed9f4fd22d1bc38527f4797548e568ca43f500c");
            await Assert.That(PeerIdentity.Verify(identity.PeerId, message, signature)).IsTrue();
            message[^1] ^= 1;
            await Assert.That(PeerIdentity.Verify(identity.PeerId, message, signature)).IsFalse();
        }
    }

    [Test]
    [Arguments("")]
    [Arguments("12D3KooW")]
    [Arguments("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0")] // '0' is not base58
    [Arguments("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5")]       // truncated sha256 multihash
    [Arguments("bafzaaj")]
    public async Task Malformed_ids_are_refused(string text)
    {
        await Assert.That(PeerId.TryParse(text, out _)).IsFalse();
    }

    [Test]
    public async Task A_private_key_whose_public_half_does_not_match_is_refused()
    {
        var bytes = Hex.Bytes(PrivateKeyProtobuf);
        bytes[^1] ^= 0xFF;
        await Assert.That(PeerIdentity.TryFromPrivateKeyProtobuf(bytes, out _)).IsFalse();
    }
}

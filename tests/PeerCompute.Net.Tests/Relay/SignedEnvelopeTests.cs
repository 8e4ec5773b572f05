using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Relay;

/// <summary>RFC 0002 signed envelopes and the circuit relay reservation voucher they carry.</summary>
public class SignedEnvelopeTests
{
    private const string FirstMultihash = "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string OnesMultihash = "0024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    [Test]
    public async Task The_signed_bytes_are_length_prefixed_domain_type_and_payload()
    {
        // 11 = 17, the length of "libp2p-relay-rsvp"; 02 0302 the payload type; 03 010203 the payload.
        string expected = "11" + Hex.Of(Encoding.UTF8.GetBytes("libp2p-relay-rsvp")) + "020302" + "03010203";
        await Assert.That(Hex.Of(SignedEnvelope.SignedBytes("libp2p-relay-rsvp", [0x03, 0x02], [1, 2, 3]))).IsEqualTo(expected);
    }

    [Test]
    public async Task A_sealed_envelope_has_the_go_libp2p_field_numbers_and_verifies()
    {
        using var identity = Vectors.FirstIdentity();
        var envelope = SignedEnvelope.Seal(identity, "test-domain", [0x03, 0x02], [1, 2, 3]);
        // Ed25519 signatures are deterministic: the one over the RFC's signed bytes, made directly.
        byte[] expectedSignature = identity.Sign(SignedEnvelope.SignedBytes("test-domain", [0x03, 0x02], [1, 2, 3]));
        await Assert.That(Hex.Of(envelope.Signature)).IsEqualTo(Hex.Of(expectedSignature));
        // 0a 24 public key protobuf (field 1), 12 02 0302 (field 2), 1a 03 010203 (field 3), 2a 40 signature (field 5).
        string expected = "0a24" + Hex.Of(identity.PublicKeyProtobuf) + "120203021a03010203" + "2a40" + Hex.Of(expectedSignature);
        await Assert.That(Hex.Of(envelope.Encode())).IsEqualTo(expected);

        await Assert.That(SignedEnvelope.TryDecode(Hex.Bytes(expected), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.TryVerify("test-domain", out var signer)).IsTrue();
        await Assert.That(signer).IsEqualTo(identity.PeerId);
        await Assert.That(Hex.Of(decoded.Encode())).IsEqualTo(expected);
    }

    [Test]
    [Arguments("payload")]
    [Arguments("type")]
    [Arguments("signature")]
    [Arguments("key")]
    public async Task Any_tampered_part_fails_verification(string part)
    {
        using var identity = Vectors.FirstIdentity();
        var envelope = SignedEnvelope.Seal(identity, "test-domain", [0x03, 0x02], [1, 2, 3]);
        var tampered = part switch
        {
            "payload" => envelope with { Payload = [1, 2, 4] },
            "type" => envelope with { PayloadType = [0x03, 0x03] },
            "signature" => envelope with { Signature = Flip(envelope.Signature, 10) },
            _ => envelope with { PublicKeyProtobuf = Flip(envelope.PublicKeyProtobuf, 20) },
        };
        await Assert.That(tampered.TryVerify("test-domain", out var signer)).IsFalse();
        await Assert.That(signer).IsNull();
        // The same holds after a trip through the wire form.
        await Assert.That(SignedEnvelope.TryDecode(tampered.Encode(), out var decoded, out _)).IsTrue();
        await Assert.That(decoded!.TryVerify("test-domain", out _)).IsFalse();
    }

    [Test]
    public async Task Another_domain_fails_verification()
    {
        using var identity = Vectors.FirstIdentity();
        var envelope = SignedEnvelope.Seal(identity, "test-domain", [0x03, 0x02], [1, 2, 3]);
        await Assert.That(envelope.TryVerify("test-domaim", out _)).IsFalse();
        await Assert.That(envelope.TryVerify("", out _)).IsFalse();
        await Assert.That(envelope.TryVerify("test-domain", out _)).IsTrue();
    }

    [Test]
    public async Task A_key_that_is_not_ed25519_does_not_verify()
    {
        using var identity = Vectors.FirstIdentity();
        var envelope = SignedEnvelope.Seal(identity, "d", [], []);
        byte[] rsaTyped = [0x08, 0x00, .. envelope.PublicKeyProtobuf[2..]];
        await Assert.That((envelope with { PublicKeyProtobuf = rsaTyped }).TryVerify("d", out _)).IsFalse();
    }

    [Test]
    [Arguments("", "missing")]                        // nothing
    [Arguments("0a0101", "missing")]                  // a key, no signature
    [Arguments("2a0101", "missing")]                  // a signature, no key
    [Arguments("0a01012a", "truncated")]              // signature without its length
    [Arguments("0a0101080100", "wire type")]          // field 1 as a varint
    public async Task Malformed_envelopes_are_refused_with_a_reason(string hex, string reason)
    {
        await Assert.That(SignedEnvelope.TryDecode(Hex.Bytes(hex), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains(reason);
    }

    [Test]
    public async Task Absent_type_and_payload_are_empty_and_unknown_fields_are_skipped()
    {
        // 22 01 ff = field 4 bytes (the RFC's signature number, not the implementations'), skipped.
        await Assert.That(SignedEnvelope.TryDecode(Hex.Bytes("0a01012201ff2a0102"), out var envelope, out _)).IsTrue();
        await Assert.That(envelope!.PayloadType).IsEmpty();
        await Assert.That(envelope.Payload).IsEmpty();
        await Assert.That(Hex.Of(envelope.Signature)).IsEqualTo("02");
        await Assert.That(SignedEnvelope.TryDecode(new byte[SignedEnvelope.MaxSize + 1], out _, out _)).IsFalse();
    }

    [Test]
    public async Task The_voucher_payload_matches_its_hand_built_bytes()
    {
        var voucher = new ReservationVoucher(PeerId.Parse(Vectors.FirstPeerId), PeerId.Parse(Vectors.SeedOnesPeerId), 1_700_000_000);
        // 0a 26 relay multihash, 12 26 peer multihash, 18 80e2cfaa06 expiration (field 3 varint).
        string expected = "0a26" + FirstMultihash + "1226" + OnesMultihash + "1880e2cfaa06";
        await Assert.That(Hex.Of(voucher.Encode())).IsEqualTo(expected);
        await Assert.That(ReservationVoucher.TryDecode(Hex.Bytes(expected), out var decoded, out _)).IsTrue();
        await Assert.That(decoded).IsEqualTo(voucher);
        // proto3 leaves a zero expiration out.
        await Assert.That(ReservationVoucher.TryDecode(Hex.Bytes("0a26" + FirstMultihash + "1226" + OnesMultihash), out var zero, out _)).IsTrue();
        await Assert.That(zero!.ExpirationUnixSeconds).IsEqualTo(0UL);
        await Assert.That(Hex.Of(ReservationVoucher.PayloadType)).IsEqualTo("0302");
    }

    [Test]
    [Arguments("1226" + OnesMultihash)]                        // no relay
    [Arguments("0a26" + FirstMultihash)]                       // no peer
    [Arguments("0a020102" + "1226" + OnesMultihash)]           // a relay that is no peer id
    [Arguments("0a26" + FirstMultihash + "1226" + OnesMultihash + "1a00")] // expiration as bytes
    public async Task Malformed_vouchers_are_refused(string hex)
    {
        await Assert.That(ReservationVoucher.TryDecode(Hex.Bytes(hex), out _, out string? error)).IsFalse();
        await Assert.That(error).IsNotNull();
    }

    [Test]
    public async Task A_sealed_voucher_opens_to_itself()
    {
        using var relay = Vectors.FirstIdentity();
        var voucher = new ReservationVoucher(relay.PeerId, PeerId.Parse(Vectors.SeedOnesPeerId), 1_700_000_000);
        var envelope = voucher.Seal(relay);
        await Assert.That(Hex.Of(envelope.PayloadType)).IsEqualTo("0302");
        await Assert.That(envelope.TryVerify(ReservationVoucher.Domain, out var signer)).IsTrue();
        await Assert.That(signer).IsEqualTo(relay.PeerId);
        await Assert.That(ReservationVoucher.TryOpen(envelope.Encode(), out var opened, out string? error)).IsTrue();
        await Assert.That(error).IsNull();
        await Assert.That(opened).IsEqualTo(voucher);
    }

    [Test]
    public async Task A_voucher_signed_by_another_key_than_its_relay_is_refused()
    {
        using var relay = Vectors.FirstIdentity();
        using var other = Vectors.SeedOnesIdentity();
        var voucher = new ReservationVoucher(relay.PeerId, other.PeerId, 1_700_000_000);
        // A valid envelope, by a key that is not the voucher's relay.
        var forged = SignedEnvelope.Seal(other, ReservationVoucher.Domain, ReservationVoucher.PayloadType, voucher.Encode());
        await Assert.That(forged.TryVerify(ReservationVoucher.Domain, out _)).IsTrue();
        await Assert.That(ReservationVoucher.TryOpen(forged.Encode(), out var opened, out string? error)).IsFalse();
        await Assert.That(opened).IsNull();
        await Assert.That(error).Contains("signed by");
        await Assert.That(() => voucher.Seal(other)).Throws<ArgumentException>();
    }

    [Test]
    public async Task A_voucher_in_the_wrong_domain_type_or_tampered_is_refused()
    {
        using var relay = Vectors.FirstIdentity();
        var voucher = new ReservationVoucher(relay.PeerId, PeerId.Parse(Vectors.SeedOnesPeerId), 1_700_000_000);
        var otherDomain = SignedEnvelope.Seal(relay, "libp2p-routing-state", ReservationVoucher.PayloadType, voucher.Encode());
        await Assert.That(ReservationVoucher.TryOpen(otherDomain.Encode(), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("signature");
        var otherType = SignedEnvelope.Seal(relay, ReservationVoucher.Domain, [0x03, 0x01], voucher.Encode());
        await Assert.That(ReservationVoucher.TryOpen(otherType.Encode(), out _, out error)).IsFalse();
        await Assert.That(error).Contains("payload type");
        var sealedOne = voucher.Seal(relay);
        var later = sealedOne with { Payload = new ReservationVoucher(relay.PeerId, voucher.Peer, 1_800_000_000).Encode() };
        await Assert.That(ReservationVoucher.TryOpen(later.Encode(), out _, out error)).IsFalse();
        await Assert.That(ReservationVoucher.TryOpen(sealedOne.Encode().AsSpan(0, 30), out _, out _)).IsFalse();
        await Assert.That(ReservationVoucher.TryOpen([], out _, out _)).IsFalse();
    }

    private static byte[] Flip(byte[] bytes, int index)
    {
        byte[] copy = (byte[])bytes.Clone();
        copy[index] ^= 0x01;
        return copy;
    }
}

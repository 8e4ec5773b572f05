using System.Diagnostics.CodeAnalysis;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Protobuf;

namespace PeerCompute.Net.Relay;

/// <summary>
/// A libp2p signed envelope (RFC 0002), with the field numbers the implementations use (go-libp2p's
/// <c>core/record/pb/envelope.proto</c>, js-libp2p alike; the RFC's own listing differs):
/// <c>Envelope { PublicKey public_key = 1; bytes payload_type = 2; bytes payload = 3; bytes signature = 5 }</c>.
/// The signature covers <c>uvarint(len(domain)) ‖ domain ‖ uvarint(len(type)) ‖ type ‖ uvarint(len(payload)) ‖ payload</c>;
/// the domain is not carried, so a verifier names the one it expects. Only Ed25519 keys verify.
/// </summary>
public sealed record SignedEnvelope(byte[] PublicKeyProtobuf, byte[] PayloadType, byte[] Payload, byte[] Signature)
{
    /// <summary>Envelopes larger than this are refused (a voucher is about 200 bytes; a relay message is at most 4 KiB).</summary>
    public const int MaxSize = 4096;

    public static SignedEnvelope Seal(PeerIdentity signer, string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(domain);
        var signature = signer.Sign(SignedBytes(domain, payloadType, payload));
        return new SignedEnvelope(signer.PublicKeyProtobuf.ToArray(), payloadType.ToArray(), payload.ToArray(), signature);
    }

    /// <summary>
    /// True when <see cref="Signature"/> is a valid Ed25519 signature, by the key in <see cref="PublicKeyProtobuf"/>,
    /// over this envelope's payload type and payload in <paramref name="domain"/>; <paramref name="signer"/> is that
    /// key's peer id.
    /// </summary>
    public bool TryVerify(string domain, [NotNullWhen(true)] out PeerId? signer)
    {
        ArgumentNullException.ThrowIfNull(domain);
        signer = null;
        if (!KeyProtobuf.TryDecodeEd25519PublicKey(PublicKeyProtobuf, out var publicKey)
            || !PeerIdentity.Verify(publicKey, SignedBytes(domain, PayloadType, Payload), Signature))
            return false;
        signer = PeerId.FromEd25519PublicKey(publicKey);
        return true;
    }

    public byte[] Encode()
    {
        var output = new ProtobufWriter(64 + PublicKeyProtobuf.Length + PayloadType.Length + Payload.Length + Signature.Length);
        output.WriteBytes(1, PublicKeyProtobuf);
        output.WriteBytes(2, PayloadType);
        output.WriteBytes(3, Payload);
        output.WriteBytes(5, Signature);
        return output.ToArray();
    }

    /// <summary>
    /// Decodes an envelope without verifying it. False, with a reason, when it is over <see cref="MaxSize"/>, malformed,
    /// or lacks the public key or the signature; an absent payload type or payload is empty. Unknown fields are skipped.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out SignedEnvelope? envelope, out string? error)
    {
        envelope = null;
        try
        {
            if (bytes.Length > MaxSize)
                throw new Libp2pProtocolException($"envelope: {bytes.Length} bytes is over {MaxSize}");
            byte[]? publicKey = null, signature = null;
            byte[] payloadType = [], payload = [];
            var reader = new ProtobufReader(bytes);
            while (reader.TryReadField(out int field, out int wireType, out var value))
            {
                if (field is not (1 or 2 or 3 or 5))
                    continue;
                if (wireType != ProtobufReader.LengthDelimited)
                    throw new Libp2pProtocolException($"envelope: field {field} has wire type {wireType}, not bytes");
                switch (field)
                {
                    case 1: publicKey = value.ToArray(); break;
                    case 2: payloadType = value.ToArray(); break;
                    case 3: payload = value.ToArray(); break;
                    case 5: signature = value.ToArray(); break;
                }
            }
            if (publicKey is null || signature is null)
                throw new Libp2pProtocolException("envelope: the public key or the signature is missing");
            envelope = new SignedEnvelope(publicKey, payloadType, payload, signature);
            error = null;
            return true;
        }
        catch (Libp2pProtocolException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>What the signature covers (RFC 0002): each of domain, type and payload with its uvarint length.</summary>
    internal static byte[] SignedBytes(string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        byte[] domainBytes = Encoding.UTF8.GetBytes(domain);
        var bytes = new byte[3 * Varint.MaxLength + domainBytes.Length + payloadType.Length + payload.Length];
        int n = Append(bytes, 0, domainBytes);
        n = Append(bytes, n, payloadType);
        n = Append(bytes, n, payload);
        return bytes[..n];
    }

    private static int Append(Span<byte> destination, int at, ReadOnlySpan<byte> part)
    {
        at += Varint.Write(destination[at..], (ulong)part.Length);
        part.CopyTo(destination[at..]);
        return at + part.Length;
    }
}

/// <summary>
/// The payload of a circuit relay v2 reservation voucher, <c>ReservationVoucher { bytes relay = 1; bytes peer = 2;
/// uint64 expiration = 3 }</c> (peer ids as multihash bytes, expiration in UTC Unix seconds), carried in a
/// <see cref="SignedEnvelope"/> the relay signs in domain <see cref="Domain"/> with payload type <see cref="PayloadType"/>.
/// </summary>
public sealed record ReservationVoucher(PeerId Relay, PeerId Peer, ulong ExpirationUnixSeconds)
{
    public const string Domain = "libp2p-relay-rsvp";

    /// <summary>The multicodec of a reservation voucher (0x0302) as a uvarint.</summary>
    public static ReadOnlySpan<byte> PayloadType => [0x03, 0x02];

    /// <summary>The canonical form: the three fields in order, always all three.</summary>
    public byte[] Encode()
    {
        var output = new ProtobufWriter(96);
        output.WriteBytes(1, Relay.Multihash);
        output.WriteBytes(2, Peer.Multihash);
        output.WriteVarint(3, ExpirationUnixSeconds);
        return output.ToArray();
    }

    /// <summary>
    /// Decodes the payload. False, with a reason, when it is malformed or the relay or the peer is missing or not a
    /// valid peer id; an absent expiration is 0 (proto3 leaves a zero out). Unknown fields are skipped.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out ReservationVoucher? voucher, out string? error)
    {
        voucher = null;
        try
        {
            if (bytes.Length > SignedEnvelope.MaxSize)
                throw new Libp2pProtocolException($"voucher: {bytes.Length} bytes is over {SignedEnvelope.MaxSize}");
            PeerId? relay = null, peer = null;
            ulong expiration = 0;
            var reader = new ProtobufReader(bytes);
            while (reader.TryReadField(out int field, out int wireType, out var value, out ulong number))
            {
                switch (field)
                {
                    case 1 or 2:
                        if (wireType != ProtobufReader.LengthDelimited)
                            throw new Libp2pProtocolException($"voucher: field {field} has wire type {wireType}, not bytes");
                        if (!PeerId.TryFromMultihash(value, out var id))
                            throw new Libp2pProtocolException($"voucher: the {(field == 1 ? "relay" : "peer")} is not a valid peer id");
                        if (field == 1)
                            relay = id;
                        else
                            peer = id;
                        break;
                    case 3:
                        if (wireType != ProtobufReader.Varint)
                            throw new Libp2pProtocolException($"voucher: expiration has wire type {wireType}, not a varint");
                        expiration = number;
                        break;
                }
            }
            if (relay is null || peer is null)
                throw new Libp2pProtocolException("voucher: the relay or the peer is missing");
            voucher = new ReservationVoucher(relay, peer, expiration);
            error = null;
            return true;
        }
        catch (Libp2pProtocolException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>The voucher in an envelope signed by <paramref name="relay"/>, which must be <see cref="Relay"/>.</summary>
    public SignedEnvelope Seal(PeerIdentity relay)
    {
        ArgumentNullException.ThrowIfNull(relay);
        if (relay.PeerId != Relay)
            throw new ArgumentException($"The voucher names relay {Relay}, but {relay.PeerId} would sign it.", nameof(relay));
        return SignedEnvelope.Seal(relay, Domain, PayloadType, Encode());
    }

    /// <summary>
    /// Opens a voucher as it comes in <see cref="RelayReservation.Voucher"/>: decodes the envelope, checks its payload
    /// type, verifies its signature in <see cref="Domain"/>, decodes the voucher and checks that the signer is the
    /// voucher's <see cref="Relay"/>. False, with a reason, when any step fails. The expiration is not compared with
    /// the clock: that is the caller's policy.
    /// </summary>
    public static bool TryOpen(ReadOnlySpan<byte> envelopeBytes, [NotNullWhen(true)] out ReservationVoucher? voucher, out string? error)
    {
        voucher = null;
        if (!SignedEnvelope.TryDecode(envelopeBytes, out var envelope, out error))
            return false;
        if (!envelope.PayloadType.AsSpan().SequenceEqual(PayloadType))
        {
            error = $"voucher: payload type {Convert.ToHexStringLower(envelope.PayloadType)} is not 0302";
            return false;
        }
        if (!envelope.TryVerify(Domain, out var signer))
        {
            error = "voucher: the signature does not verify";
            return false;
        }
        if (!TryDecode(envelope.Payload, out var decoded, out error))
            return false;
        if (decoded.Relay != signer)
        {
            error = $"voucher: names relay {decoded.Relay} but is signed by {signer}";
            return false;
        }
        voucher = decoded;
        error = null;
        return true;
    }
}

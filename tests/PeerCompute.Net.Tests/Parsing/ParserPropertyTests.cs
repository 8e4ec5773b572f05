using System.Buffers;
using CsCheck;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Net.HolePunch;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Relay;

namespace PeerCompute.Net.Tests.Parsing;

/// <summary>Every parser over bytes from the network either succeeds, asks for more, or throws <see cref="Libp2pProtocolException"/>.</summary>
public class ParserPropertyTests
{
    private static readonly Gen<byte[]> AnyBytes = Gen.Byte.Array[0, 300];

    private static void OnlyProtocolErrors(Action parse)
    {
        try
        {
            parse();
        }
        catch (Libp2pProtocolException)
        {
        }
    }

    [Test]
    public void Multistream_messages_parse_or_fail_cleanly_and_round_trip()
    {
        AnyBytes.Sample(bytes => OnlyProtocolErrors(() =>
        {
            if (MultistreamMessage.TryParse(bytes, out var text, out int consumed) == OperationStatus.Done
                && !MultistreamMessage.Encode(text).AsSpan().SequenceEqual(bytes.AsSpan(0, consumed)))
                throw new InvalidOperationException("message does not round-trip");
        }), iter: 20_000);
        Gen.String[Gen.Char['a', 'z'], 1, 200].Sample(text =>
        {
            var bytes = MultistreamMessage.Encode(text);
            if (MultistreamMessage.TryParse(bytes, out var back, out _) != OperationStatus.Done || back != text)
                throw new InvalidOperationException("encoded message does not parse back");
        });
    }

    [Test]
    public void Noise_payloads_and_identify_messages_decode_or_fail_cleanly()
    {
        AnyBytes.Sample(bytes =>
        {
            OnlyProtocolErrors(() => NoiseHandshakePayload.Decode(bytes));
            OnlyProtocolErrors(() => IdentifyMessage.Decode(bytes));
        }, iter: 20_000);
        Gen.Select(Gen.Byte.Array[36], Gen.Byte.Array[64], Gen.String[Gen.Char['a', 'z'], 1, 20].Array[0, 5]).Sample((key, sig, muxers) =>
        {
            var decoded = NoiseHandshakePayload.Decode(new NoiseHandshakePayload(key, sig, muxers).Encode());
            if (!decoded.IdentityKey.AsSpan().SequenceEqual(key) || !decoded.StreamMuxers.SequenceEqual(muxers))
                throw new InvalidOperationException("payload does not round-trip");
        });
    }

    /// <summary>
    /// The relay, DCUtR, envelope and voucher decoders never throw (they answer false with a reason), and what they
    /// accept encodes to bytes that decode to the same encoding.
    /// </summary>
    [Test]
    public void Relay_and_holepunch_messages_decode_or_refuse_and_re_encode_stably()
    {
        // Mostly-protobuf inputs: a type field first makes the fuzzing reach past the type check.
        var framed = Gen.Select(Gen.Byte[0, 3], Gen.Byte.Array[0, 200]).Select((type, rest) => (byte[])[0x08, type, .. rest]);
        Gen.OneOf(AnyBytes, framed).Sample(bytes =>
        {
            if (HopMessage.TryDecode(bytes, out var hop, out _))
                Stable(hop.Encode(), b => HopMessage.TryDecode(b, out var m, out _) ? m.Encode() : null);
            if (StopMessage.TryDecode(bytes, out var stop, out _))
                Stable(stop.Encode(), b => StopMessage.TryDecode(b, out var m, out _) ? m.Encode() : null);
            if (HolePunchMessage.TryDecode(bytes, out var punch, out _))
                Stable(punch.Encode(), b => HolePunchMessage.TryDecode(b, out var m, out _) ? m.Encode() : null);
            if (SignedEnvelope.TryDecode(bytes, out var envelope, out _))
            {
                Stable(envelope.Encode(), b => SignedEnvelope.TryDecode(b, out var e, out _) ? e.Encode() : null);
                envelope.TryVerify(ReservationVoucher.Domain, out _);
            }
            if (ReservationVoucher.TryDecode(bytes, out var voucher, out _))
                Stable(voucher.Encode(), b => ReservationVoucher.TryDecode(b, out var v, out _) ? v.Encode() : null);
            ReservationVoucher.TryOpen(bytes, out _, out _);
        }, iter: 20_000);
    }

    private static void Stable(byte[] encoded, Func<byte[], byte[]?> decodeEncode)
    {
        var again = decodeEncode(encoded) ?? throw new InvalidOperationException("our own encoding does not decode");
        if (!again.AsSpan().SequenceEqual(encoded))
            throw new InvalidOperationException("decode → encode is not stable");
    }
}

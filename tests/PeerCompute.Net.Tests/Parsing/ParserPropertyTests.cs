using System.Buffers;
using CsCheck;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Net.Protocols;

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
}

using CsCheck;

namespace PeerCompute.Mux.Tests.Parsing;

/// <summary>The yamux header parser over any bytes either succeeds, asks for more, or throws <see cref="MuxProtocolException"/>.</summary>
public class ParserPropertyTests
{
    private static readonly Gen<byte[]> AnyBytes = Gen.Byte.Array[0, 300];

    private static void OnlyProtocolErrors(Action parse)
    {
        try
        {
            parse();
        }
        catch (MuxProtocolException)
        {
        }
    }

    [Test]
    public void Yamux_headers_parse_or_fail_cleanly_and_round_trip()
    {
        AnyBytes.Sample(bytes => OnlyProtocolErrors(() =>
        {
            if (YamuxFrameHeader.TryParse(bytes, out var header) && !header.ToArray().AsSpan().SequenceEqual(bytes.AsSpan(0, 12)))
                throw new InvalidOperationException("header does not round-trip");
        }), iter: 20_000);
    }
}

using System.Buffers;
using CsCheck;

namespace PeerCompute.Mux.Tests.Parsing;

/// <summary>The yamux header parser over any bytes either succeeds, asks for more, or says invalid, and never throws (a throw would be no <see cref="MuxProtocolException"/> either).</summary>
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
            var status = YamuxFrameHeader.TryRead(bytes, out var header, out int consumed);
            if (status == OperationStatus.Done && (consumed != 12 || !header.ToArray().AsSpan().SequenceEqual(bytes.AsSpan(0, 12))))
                throw new InvalidOperationException("header does not round-trip");
            if ((status == OperationStatus.NeedMoreData) != (bytes.Length < 12) || (status != OperationStatus.Done && consumed != 0))
                throw new InvalidOperationException($"{status} for {bytes.Length} bytes, {consumed} consumed");
        }), iter: 20_000);
    }
}

using System.Buffers;

namespace PeerCompute.Mux.Tests.Yamux;

internal sealed class YamuxFrameTests
{
    [Test]
    [Arguments(YamuxFrameType.Ping, YamuxFlags.Syn, 0u, 0u, "000200010000000000000000")]
    [Arguments(YamuxFrameType.Ping, YamuxFlags.Ack, 0u, 0u, "000200020000000000000000")]
    [Arguments(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1u, 0u, "000100010000000100000000")]
    [Arguments(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1u, 36u, "000100020000000100000024")]
    [Arguments(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 1u, 0u, "000100040000000100000000")]
    [Arguments(YamuxFrameType.GoAway, YamuxFlags.None, 0u, 0u, "000300000000000000000000")]
    public async Task Headers_encode_and_parse_as_the_wire_vectors(YamuxFrameType type, YamuxFlags flags, uint id, uint length, string hex)
    {
        var header = new YamuxFrameHeader(type, flags, id, length);
        await Assert.That(Hex.Of(header.ToArray())).IsEqualTo(hex);
        await Assert.That(YamuxFrameHeader.TryRead(Hex.Bytes(hex), out var parsed, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(parsed).IsEqualTo(header);
        await Assert.That(consumed).IsEqualTo(YamuxFrameHeader.Size);
    }

    [Test]
    public async Task A_partial_header_needs_more_bytes()
    {
        await Assert.That(YamuxFrameHeader.TryRead(Hex.Bytes("0002000100000000000000"), out _, out int consumed)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(consumed).IsEqualTo(0);
    }

    [Test]
    [Arguments("010200010000000000000000", "version")]
    [Arguments("000400000000000000000000", "type")]
    [Arguments("000000000000000000000005", "stream 0")]
    [Arguments("000100000000000000000005", "stream 0")]
    [Arguments("000200010000000100000000", "stream 1")]
    [Arguments("000300000000000200000000", "stream 2")]
    [Arguments("000200030000000000000000", "flags")]
    [Arguments("000200000000000000000000", "flags")]
    public async Task Malformed_headers_are_protocol_errors(string hex, string reasonPart)
    {
        await Assert.That(YamuxFrameHeader.TryRead(Hex.Bytes(hex), out _, out int consumed, out string? reason)).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(consumed).IsEqualTo(0);
        await Assert.That(reason!).Contains(reasonPart);
    }
}

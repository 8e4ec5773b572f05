using System.Buffers;
using CsCheck;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Relay;

namespace PeerCompute.Net.Tests.Parsing;

/// <summary>
/// The one convention of the pure framing parsers: Done (value and bytes taken), NeedMoreData (nothing taken) for
/// every proper prefix of a message, InvalidData (never an exception) for a malformed one.
/// </summary>
public class NeedMoreConventionTests
{
    [Test]
    public async Task Multistream_every_prefix_needs_more_and_the_whole_message_is_done()
    {
        byte[] message = MultistreamMessage.Encode("/noise");
        for (int n = 0; n < message.Length; n++)
        {
            await Assert.That(MultistreamMessage.TryRead(message.AsSpan(0, n), out _, out int consumed)).IsEqualTo(OperationStatus.NeedMoreData);
            await Assert.That(consumed).IsEqualTo(0);
        }
        await Assert.That(MultistreamMessage.TryRead([.. message, 0x42], out string text, out int all)).IsEqualTo(OperationStatus.Done);
        await Assert.That(text).IsEqualTo("/noise");
        await Assert.That(all).IsEqualTo(message.Length);
    }

    [Test]
    [Arguments("00")]
    [Arguments("036e6178")]
    [Arguments("8110")]
    [Arguments("8181")]
    public async Task Multistream_malformed_is_invalid_data_not_an_exception(string hex)
    {
        await Assert.That(MultistreamMessage.TryRead(Convert.FromHexString(hex), out _, out int consumed)).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(consumed).IsEqualTo(0);
    }

    [Test]
    public async Task Identify_frame_prefixes_need_more_and_oversize_is_invalid()
    {
        var body = new IdentifyMessage(null, [], ["/ipfs/id/1.0.0"], null, "ipfs/0.1.0", "test").Encode();
        byte[] frame = [(byte)body.Length, .. body];
        for (int n = 0; n < frame.Length; n++)
            await Assert.That(IdentifyProtocol.TryRead(frame.AsSpan(0, n), out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(IdentifyProtocol.TryRead(frame, out var message, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(message!.AgentVersion).IsEqualTo("test");
        await Assert.That(consumed).IsEqualTo(frame.Length);
        // 8193 bytes announced: over the 8 KiB limit before any of them arrives.
        await Assert.That(IdentifyProtocol.TryRead([0x81, 0x40], out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task Noise_frames_need_their_whole_body_and_a_short_transport_message_is_invalid()
    {
        byte[] frame = [0, 3, 1, 2, 3, 9];
        await Assert.That(NoiseFrame.TryRead(frame.AsSpan(0, 1), 0, out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(NoiseFrame.TryRead(frame.AsSpan(0, 4), 0, out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(NoiseFrame.TryRead(frame, 0, out int length, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That((length, consumed)).IsEqualTo((3, 5));
        await Assert.That(NoiseFrame.TryRead(frame.AsSpan(0, 2), 16, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task Relay_frame_prefixes_need_more_and_oversize_is_invalid()
    {
        var body = new HopMessage(HopMessageType.Reserve).Encode();
        byte[] frame = [(byte)body.Length, .. body];
        for (int n = 0; n < frame.Length; n++)
            await Assert.That(DelimitedMessage.TryRead(frame.AsSpan(0, n), RelayProtocol.MaxMessageSize, out _, out int none)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(DelimitedMessage.TryRead(frame, RelayProtocol.MaxMessageSize, out _, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(consumed).IsEqualTo(frame.Length);
        // 4097 bytes announced: over the 4 KiB limit before any of them arrives.
        await Assert.That(DelimitedMessage.TryRead([0x81, 0x20], RelayProtocol.MaxMessageSize, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public void Random_bytes_never_throw()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            MultistreamMessage.TryRead(bytes, out _, out _);
            IdentifyProtocol.TryRead(bytes, out _, out _);
            NoiseFrame.TryRead(bytes, 16, out _, out _);
            DelimitedMessage.TryRead(bytes, RelayProtocol.MaxMessageSize, out _, out _);
        }, iter: 5_000);
    }
}

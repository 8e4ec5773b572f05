using System.Buffers.Binary;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Net.Tests.Support;
using PeerCompute.Mux;

namespace PeerCompute.Net.Tests.Host;

/// <summary>Each hostile peer loses its own connection; the host goes on serving a well-behaved peer.</summary>
public class HostileInputTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static async Task AssertStillServing(Libp2pHost host, Multiaddr address)
    {
        await using var good = new Libp2pHost(PeerIdentity.Generate());
        await good.DialAsync(address).WaitAsync(Guard);
        var rtt = await good.PingAsync(host.PeerId).WaitAsync(Guard);
        await Assert.That(rtt).IsGreaterThan(TimeSpan.Zero);
    }

    private static async Task<(Libp2pHost Host, Multiaddr Address, TaskCompletionSource<Exception> Failure)> Start(Libp2pHostOptions? options = null)
    {
        var (host, address) = await HostTests.StartHost(options);
        var failure = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.InboundConnectionFailed += (_, e) => failure.TrySetResult(e);
        return (host, address, failure);
    }

    [Test]
    public async Task Garbage_before_multistream_closes_the_connection()
    {
        var (host, address, failure) = await Start();
        await using var _ = host;
        await using var raw = await RawPeer.ConnectAsync(address);
        await raw.SendAsync("GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\nUser-Agent: curl/8\r\nX-Padding: 0123456789012345678901234567890123456789\r\n\r\n"u8.ToArray());

        await Assert.That(await raw.WaitClosedAsync(Guard)).IsTrue();
        await Assert.That(await failure.Task.WaitAsync(Guard)).IsTypeOf<Libp2pProtocolException>();
        await AssertStillServing(host, address);
    }

    [Test]
    public async Task An_oversized_multistream_message_closes_the_connection()
    {
        var (host, address, failure) = await Start();
        await using var _ = host;
        await using var raw = await RawPeer.ConnectAsync(address);
        var header = MultistreamMessage.Encode(MultistreamMessage.Header);
        var huge = new byte[2 + 5000];
        huge[0] = 0x89; huge[1] = 0x27; // varint 5001
        Array.Fill(huge, (byte)'a', 2, 4999);
        huge[^1] = (byte)'\n';
        await raw.SendAsync(header, huge);

        await Assert.That(await raw.WaitClosedAsync(Guard)).IsTrue();
        var error = await failure.Task.WaitAsync(Guard);
        await Assert.That(error.Message).Contains("limit");
        await AssertStillServing(host, address);
    }

    [Test]
    public async Task A_noise_payload_with_a_bad_signature_closes_the_connection()
    {
        var (host, address, failure) = await Start();
        await using var _ = host;
        await using var raw = await RawPeer.ConnectAsync(address);
        await MultistreamSelect.SelectAsync(raw.Stream, NoiseSecurity.ProtocolId, CancellationToken.None);
        using var identity = PeerIdentity.Generate();
        using var staticKey = X25519KeyPair.Generate();
        using var ephemeral = X25519KeyPair.Generate();
        using var other = X25519KeyPair.Generate();
        using var state = new NoiseHandshakeState(true, staticKey, ephemeral);
        var buffer = new byte[70000];
        int n = state.WriteMessage([], buffer.AsSpan(2));
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)n);
        await raw.SendAsync(buffer[..(n + 2)]);
        await raw.Stream.ReadExactlyAsync(buffer.AsMemory(0, 2));
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        await raw.Stream.ReadExactlyAsync(buffer.AsMemory(0, length));
        state.ReadMessage(buffer.AsSpan(0, length), new byte[70000]);
        // Signed over another static key than the one we use.
        var payload = NoiseSecurity.CreatePayload(identity, other.PublicKey, ["/yamux/1.0.0"]).Encode();
        n = state.WriteMessage(payload, buffer.AsSpan(2));
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)n);
        await raw.SendAsync(buffer[..(n + 2)]);

        await Assert.That(await raw.WaitClosedAsync(Guard)).IsTrue();
        var error = await failure.Task.WaitAsync(Guard);
        await Assert.That(error.Message).Contains("signature");
        await Assert.That(host.Connections.Count).IsEqualTo(0);
        await AssertStillServing(host, address);
    }

    [Test]
    [Arguments("010200010000000000000000", "version")]
    [Arguments("000100010000000200000000", "parity")]
    [Arguments("000200020000000000000063", "unsolicited")]
    public async Task A_bad_yamux_frame_gets_GoAway_protocol_error_and_the_connection_closes(string frameHex, string reason)
    {
        var (host, address, _) = await Start();
        await using var _ = host;
        var closed = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionClosed += c => closed.TrySetResult(c);
        using var identity = PeerIdentity.Generate();
        await using var raw = await RawPeer.ConnectAsync(address);
        await raw.SecureAsync(identity);
        await raw.SendAsync(Hex.Bytes(frameHex));

        await Assert.That(await raw.ReadUntilClosedAsync(Guard)).IsEqualTo((uint)YamuxGoAwayCode.ProtocolError);
        var connection = await closed.Task.WaitAsync(Guard);
        await Assert.That(connection.Session.Error!.Message).Contains(reason);
        await AssertStillServing(host, address);
    }

    [Test]
    public async Task Data_beyond_the_window_gets_GoAway_protocol_error()
    {
        var (host, address, _) = await Start();
        await using var _ = host;
        var closed = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionClosed += c => closed.TrySetResult(c);
        using var identity = PeerIdentity.Generate();
        await using var raw = await RawPeer.ConnectAsync(address);
        await raw.SecureAsync(identity);
        // Open stream 1 and send one byte more than the 256 KiB initial window.
        await raw.SendAsync(
            RawPeer.Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0),
            RawPeer.Frame(YamuxFrameType.Data, YamuxFlags.None, 1, YamuxOptions.InitialWindow + 1, new byte[YamuxOptions.InitialWindow + 1]));

        await Assert.That(await raw.ReadUntilClosedAsync(Guard)).IsEqualTo((uint)YamuxGoAwayCode.ProtocolError);
        var connection = await closed.Task.WaitAsync(Guard);
        await Assert.That(connection.Session.Error!.Message).Contains("window");
        await AssertStillServing(host, address);
    }

    [Test]
    public async Task A_peer_that_stops_reading_is_cut_off_before_queued_frames_pile_up()
    {
        var options = new Libp2pHostOptions { Yamux = new YamuxOptions { MaxPendingControlFrames = 256 } };
        var (host, address, _) = await Start(options);
        await using var _ = host;
        var closed = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionClosed += c => closed.TrySetResult(c);
        using var identity = PeerIdentity.Generate();
        await using var raw = await RawPeer.ConnectAsync(address, receiveBuffer: 4096);
        await raw.SecureAsync(identity);

        // Flood pings (each asks for an answer) and never read: the answers cannot be sent, and queue up.
        var batch = Enumerable.Range(0, 4096).SelectMany(i => RawPeer.Frame(YamuxFrameType.Ping, YamuxFlags.Syn, 0, (uint)i)).ToArray();
        var flooding = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < 2000 && !closed.Task.IsCompleted; i++)
                    await raw.SendAsync(batch);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // The host hung up on us: expected.
            }
        });

        var connection = await closed.Task.WaitAsync(Guard);
        await Assert.That(connection.Session.Error!.Message).Contains("not reading");
        await flooding.WaitAsync(Guard);
        await AssertStillServing(host, address);
    }
}

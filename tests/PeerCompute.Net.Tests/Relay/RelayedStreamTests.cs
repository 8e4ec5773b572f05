using PeerCompute.Mux;
using PeerCompute.Net.Relay;

namespace PeerCompute.Net.Tests.Relay;

/// <summary>One end of a circuit on its own: what it counts when the relay cuts it, and what it concludes from that.</summary>
public class RelayedStreamTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Bytes_that_left_before_the_relay_cut_a_blocked_write_still_count_towards_the_data_limit()
    {
        // A relay that stops reading at its data limit and resets the circuit while our write waits for window: Noise
        // hands the circuit ~256 KiB per write, so one such write can be cut half sent. What did leave must count, or
        // the end cannot tell that the data limit cut it (seen with js-libp2p's relay, which cuts in its receive window).
        var (a, b) = DuplexPipe.CreatePair();
        await using var ours = YamuxSession.Start(a, isClient: true);
        await using var relay = YamuxSession.Start(b, isClient: false);
        var hop = await ours.OpenStreamAsync().AsTask().WaitAsync(Guard);
        await hop.WriteAsync(new byte[1]).AsTask().WaitAsync(Guard); // makes the relay see the stream
        var atRelay = (await relay.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        var circuit = new RelayedStream(hop, new RelayLimit(null, 256 * 1024));

        var writing = circuit.WriteAsync(new byte[1024 * 1024]).AsTask();
        var received = new byte[256 * 1024];
        await atRelay.ReadExactlyAsync(received.AsMemory(0, 1)).AsTask().WaitAsync(Guard);
        await atRelay.ReadExactlyAsync(received).AsTask().WaitAsync(Guard);
        atRelay.Reset();
        var cut = await Assert.ThrowsAsync<Exception>(() => writing.WaitAsync(Guard));

        await Assert.That(cut).IsNotTypeOf<TimeoutException>();
        await Assert.That(circuit.BytesWritten).IsGreaterThanOrEqualTo(256 * 1024);
        await Assert.That(circuit.BytesWritten).IsLessThan(1024 * 1024);
        await Assert.That(circuit.LimitReached()).IsEqualTo("the relay's data limit of 256 KiB per direction");
    }
}

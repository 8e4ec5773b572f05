namespace PeerCompute.Mux.Tests.Yamux;

/// <summary>The send side of a dead peer: one that keeps its connection open and never reads.</summary>
public class YamuxWriteTimeoutTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Test]
    public async Task A_peer_that_never_reads_is_cut_off_at_the_write_timeout_and_sees_its_connection_end()
    {
        var (ours, theirs) = DuplexPipe.CreatePair(pauseWriterThreshold: 16 * 1024);
        await using var session = YamuxSession.Start(ours, isClient: true,
            new YamuxOptions { WriteTimeout = TimeSpan.FromMilliseconds(300), KeepAliveInterval = Timeout.InfiniteTimeSpan });
        var stream = await session.OpenStreamAsync();
        // More than the transport buffers and less than the stream's window: only the transport holds the write back.
        var writing = stream.WriteAsync(new byte[128 * 1024]).AsTask();

        await session.Completion.WaitAsync(Guard);
        await Assert.That(session.Error).IsNotNull();
        await Assert.That(session.Error!.Message).Contains("write timeout");
        await Assert.That(async () => await writing.WaitAsync(Guard)).Throws<IOException>();

        // The peer is not left hanging on a connection nobody serves: it reads what was buffered, then the end.
        var sink = new byte[64 * 1024];
        using var guard = new CancellationTokenSource(Guard);
        while (await theirs.ReadAsync(sink, guard.Token) > 0)
        {
        }
    }

    [Test]
    public async Task The_write_timeout_must_be_positive_or_infinite()
    {
        var (ours, _) = DuplexPipe.CreatePair();
        await Assert.That(() => YamuxSession.Start(ours, isClient: true, new YamuxOptions { WriteTimeout = TimeSpan.Zero }))
            .Throws<ArgumentOutOfRangeException>();
    }
}

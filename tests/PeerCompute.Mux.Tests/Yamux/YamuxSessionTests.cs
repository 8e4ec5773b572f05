using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PeerCompute.Mux.Tests.Yamux;

public class YamuxSessionTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static (YamuxSession Client, YamuxSession Server) Pair(YamuxOptions? client = null, YamuxOptions? server = null)
    {
        var (a, b) = DuplexPipe.CreatePair();
        return (YamuxSession.Start(a, isClient: true, client), YamuxSession.Start(b, isClient: false, server));
    }

    /// <summary>Accepts streams and echoes each until its FIN, then half-closes.</summary>
    private static Task EchoServer(YamuxSession server) => Task.Run(async () =>
    {
        while (await server.AcceptStreamAsync() is { } stream)
        {
            _ = Task.Run(async () =>
            {
                await using (stream)
                {
                    await stream.CopyToAsync(stream);
                    await stream.CompleteWritesAsync();
                }
            });
        }
    });

    private static async Task<byte[]> ReadToEnd(Stream stream)
    {
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory);
        return memory.ToArray();
    }

    [Test]
    public async Task A_stream_carries_bytes_both_ways_and_half_closes()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        _ = EchoServer(server);

        var stream = await client.OpenStreamAsync();
        await stream.WriteAsync("hello yamux"u8.ToArray());
        await stream.CompleteWritesAsync();
        var echoed = await ReadToEnd(stream).WaitAsync(Guard);

        await Assert.That(System.Text.Encoding.ASCII.GetString(echoed)).IsEqualTo("hello yamux");
        await Assert.That(stream.Id).IsEqualTo(1u);
        await Assert.That(stream.IsRemoteClosed).IsTrue();
    }

    [Test]
    public async Task Small_writes_return_while_the_transport_is_stalled_and_their_FIN_follows_their_data()
    {
        // The transport takes a couple of bytes, then holds every write until the peer reads; nobody reads yet.
        var (a, b) = DuplexPipe.CreatePair(pauseWriterThreshold: 2);
        var quiet = new YamuxOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan };
        await using var client = YamuxSession.Start(a, isClient: true, quiet);
        var stream = await client.OpenStreamAsync();

        // Small writes are copied and queued: none waits for the stalled transport (a stream's SYN, data and FIN
        // then leave together once the writer gets its turn).
        for (int i = 0; i < 10; i++)
            await stream.WriteAsync(new[] { (byte)i, (byte)(100 + i) }).AsTask().WaitAsync(Guard);
        await stream.CompleteWritesAsync();

        await using var server = YamuxSession.Start(b, isClient: false, quiet);
        var accepted = await server.AcceptStreamAsync().AsTask().WaitAsync(Guard);
        var received = await ReadToEnd(accepted!).WaitAsync(Guard);

        byte[] expected = [.. Enumerable.Range(0, 10).SelectMany(i => new[] { (byte)i, (byte)(100 + i) })];
        await Assert.That(received).IsEquivalentTo(expected);
        await Assert.That(accepted!.IsRemoteClosed).IsTrue();
    }

    [Test]
    public async Task Small_writes_queued_without_waiting_are_bounded_while_the_transport_is_stalled()
    {
        var (a, b) = DuplexPipe.CreatePair(pauseWriterThreshold: 2);
        var quiet = new YamuxOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan };
        await using var client = YamuxSession.Start(a, isClient: true, quiet);
        var stream = await client.OpenStreamAsync();

        // 16 KiB writes (the largest that are copied) into a transport that takes nothing: they return at once only
        // while the copies queued (64 KiB) and the write loop's batch (64 KiB) have room; then a write waits.
        var chunk = new byte[16 * 1024];
        int returned = 0;
        ValueTask pending;
        while (true)
        {
            chunk.AsSpan().Fill((byte)returned);
            pending = stream.WriteAsync(chunk);
            if (!pending.IsCompleted || returned == 64)
                break;
            await pending;
            returned++;
        }
        await Assert.That(pending.IsCompleted).IsFalse();
        await Assert.That(returned).IsLessThanOrEqualTo(8);

        // The peer reads: the waiting write goes through and everything arrives in order.
        await using var server = YamuxSession.Start(b, isClient: false, quiet);
        var accepted = await server.AcceptStreamAsync().AsTask().WaitAsync(Guard);
        var reading = ReadToEnd(accepted!);
        await pending.AsTask().WaitAsync(Guard);
        await stream.CompleteWritesAsync();
        var received = await reading.WaitAsync(Guard);

        await Assert.That(received.Length).IsEqualTo((returned + 1) * chunk.Length);
        for (int i = 0; i <= returned; i++)
            await Assert.That(received[i * chunk.Length]).IsEqualTo((byte)i);
    }

    [Test]
    public async Task A_session_runs_over_a_duplex_pipe_too()
    {
        var ab = new System.IO.Pipelines.Pipe();
        var ba = new System.IO.Pipelines.Pipe();
        await using var client = YamuxSession.Start(new PipePair(ba.Reader, ab.Writer), isClient: true);
        await using var server = YamuxSession.Start(new PipePair(ab.Reader, ba.Writer), isClient: false);
        _ = EchoServer(server);
        var stream = await client.OpenStreamAsync();
        await stream.WriteAsync("over a pipe"u8.ToArray());
        await stream.CompleteWritesAsync();
        var echoed = await ReadToEnd(stream).WaitAsync(Guard);
        await Assert.That(System.Text.Encoding.ASCII.GetString(echoed)).IsEqualTo("over a pipe");
    }

    private sealed record PipePair(System.IO.Pipelines.PipeReader Input, System.IO.Pipelines.PipeWriter Output) : System.IO.Pipelines.IDuplexPipe;

    [Test]
    public async Task Client_streams_are_odd_and_server_streams_even()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var c1 = await client.OpenStreamAsync();
        var c2 = await client.OpenStreamAsync();
        var s1 = await server.OpenStreamAsync();
        var accepted = await client.AcceptStreamAsync().AsTask().WaitAsync(Guard);

        await Assert.That(c1.Id).IsEqualTo(1u);
        await Assert.That(c2.Id).IsEqualTo(3u);
        await Assert.That(s1.Id).IsEqualTo(2u);
        await Assert.That(accepted!.Id).IsEqualTo(2u);
    }

    [Test]
    public async Task A_hundred_concurrent_streams_each_get_their_own_bytes_back()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        _ = EchoServer(server);

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(10_000 + i * 1000);
            await using var stream = await client.OpenStreamAsync();
            var reading = ReadToEnd(stream);
            await stream.WriteAsync(payload);
            await stream.CompleteWritesAsync();
            return (await reading).AsSpan().SequenceEqual(payload);
        })).WaitAsync(Guard);

        await Assert.That(results.All(ok => ok)).IsTrue();
    }

    [Test]
    public async Task A_64_MiB_transfer_arrives_intact_and_the_window_grows()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var payload = RandomNumberGenerator.GetBytes(64 * 1024 * 1024);

        var receiving = Task.Run(async () =>
        {
            var stream = (await server.AcceptStreamAsync())!;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[128 * 1024];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
                hash.AppendData(buffer, 0, n);
            return (hash.GetHashAndReset(), stream.ReceiveWindow);
        });
        var sending = await client.OpenStreamAsync();
        await sending.WriteAsync(payload);
        await sending.CompleteWritesAsync();
        var (digest, window) = await receiving.WaitAsync(Guard);

        await Assert.That(Hex.Of(digest)).IsEqualTo(Hex.Of(SHA256.HashData(payload)));
        await Assert.That(window).IsGreaterThan(YamuxOptions.InitialWindow);
        await Assert.That(window).IsLessThanOrEqualTo(16 * 1024 * 1024);
    }

    [Test]
    public async Task Window_growth_is_bounded_by_the_session_budget()
    {
        var (client, server) = Pair(server: new YamuxOptions { SessionWindowGrowthBudget = YamuxOptions.InitialWindow });
        await using var clientScope = client;
        await using var serverScope = server;

        async Task<long> Transfer()
        {
            var sending = await client.OpenStreamAsync();
            var writing = Task.Run(async () =>
            {
                await sending.WriteAsync(new byte[16 * 1024 * 1024]);
                await sending.CompleteWritesAsync();
            });
            var receiving = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
            var buffer = new byte[1024 * 1024];
            while (await receiving.ReadAsync(buffer).AsTask().WaitAsync(Guard) > 0)
            {
            }
            await writing.WaitAsync(Guard);
            return receiving.ReceiveWindow; // the stream stays open here (we have not closed our side)
        }

        long first = await Transfer();
        long second = await Transfer();
        await Assert.That(first).IsLessThanOrEqualTo(2L * YamuxOptions.InitialWindow);
        await Assert.That(first + second).IsLessThanOrEqualTo(3L * YamuxOptions.InitialWindow);
    }

    [Test]
    public async Task A_reset_reaches_the_peer_as_an_IOException()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var stream = await client.OpenStreamAsync();
        await stream.WriteAsync(new byte[] { 1 });
        var remote = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        var first = new byte[1];
        await remote.ReadExactlyAsync(first).AsTask().WaitAsync(Guard);
        stream.Reset();

        await Assert.That(async () => await remote.ReadAsync(new byte[10]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(async () => await stream.WriteAsync(new byte[1])).Throws<IOException>();
    }

    [Test]
    public async Task A_writer_waits_for_window_while_the_reader_does_not_read()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var stream = await client.OpenStreamAsync();
        var writing = stream.WriteAsync(new byte[4 * 1024 * 1024]).AsTask();
        var remote = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        // The peer's buffer fills to exactly the initial window, then the writer is stuck.
        while (remote.BufferedBytes < YamuxOptions.InitialWindow)
            await Task.Yield();
        await Assert.That(writing.IsCompleted).IsFalse();
        await Assert.That(remote.BufferedBytes).IsEqualTo(YamuxOptions.InitialWindow);

        // Reading releases credit and the rest flows.
        var buffer = new byte[64 * 1024];
        long total = 0;
        while (total < 4 * 1024 * 1024)
            total += await remote.ReadAsync(buffer).AsTask().WaitAsync(Guard);
        await writing.WaitAsync(Guard);
        await Assert.That(total).IsEqualTo(4L * 1024 * 1024);
    }

    [Test]
    public async Task Ping_returns_a_round_trip_time()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var rtt = await server.PingAsync().WaitAsync(Guard);
        await Assert.That(rtt).IsGreaterThanOrEqualTo(TimeSpan.Zero);
        await Assert.That(client.IsClosed).IsFalse();
    }

    [Test]
    public async Task Streams_beyond_the_peers_limit_are_reset()
    {
        var (client, server) = Pair(server: new YamuxOptions { MaxStreams = 2 });
        await using var clientScope = client;
        await using var serverScope = server;
        var streams = new List<YamuxStream>();
        for (int i = 0; i < 3; i++)
            streams.Add(await client.OpenStreamAsync());

        await Assert.That(async () => await streams[2].ReadAsync(new byte[1]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(streams[2].IsReset).IsTrue();
        await Assert.That(server.StreamCount).IsEqualTo(2);
    }

    [Test]
    public async Task Streams_beyond_the_accept_backlog_are_reset()
    {
        var (client, server) = Pair(server: new YamuxOptions { AcceptBacklog = 1 });
        await using var clientScope = client;
        await using var serverScope = server;
        var first = await client.OpenStreamAsync();
        var second = await client.OpenStreamAsync();

        await Assert.That(async () => await second.ReadAsync(new byte[1]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(first.IsReset).IsFalse();
    }

    [Test]
    public async Task GoAway_drains_open_streams_and_refuses_new_ones()
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var stream = await client.OpenStreamAsync();
        await stream.WriteAsync(new byte[] { 7 });
        var remote = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;

        var closing = server.CloseAsync();
        // The session stays up while the stream is open...
        while (!client.IsGoingAway)
            await Task.Yield();
        await Assert.That(closing.IsCompleted).IsFalse();
        await Assert.That(async () => await client.OpenStreamAsync()).Throws<IOException>();
        var one = new byte[1];
        await remote.ReadExactlyAsync(one).AsTask().WaitAsync(Guard);
        await remote.WriteAsync(new byte[] { 8 }).AsTask().WaitAsync(Guard);
        await remote.CompleteWritesAsync();
        await stream.CompleteWritesAsync();
        var back = await ReadToEnd(stream).WaitAsync(Guard);

        // ...and ends once both sides have closed it.
        await closing.WaitAsync(Guard);
        await client.Completion.WaitAsync(Guard);
        await Assert.That(Hex.Of(back)).IsEqualTo("08");
        await Assert.That(server.Error).IsNull();
    }

    [Test]
    public async Task A_stream_the_peer_never_acknowledges_is_reset_after_the_open_timeout()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using var client = YamuxSession.Start(a, isClient: true, new YamuxOptions { OpenTimeout = TimeSpan.FromMilliseconds(200) });
        _ = b; // nobody answers on the other end
        var stream = await client.OpenStreamAsync();
        await Assert.That(async () => await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(stream.IsReset).IsTrue();
    }

    [Test]
    public async Task A_silent_peer_is_detected_as_a_dead_link()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using var client = YamuxSession.Start(a, isClient: true, new YamuxOptions
        {
            KeepAliveInterval = TimeSpan.FromMilliseconds(50),
            DeadLinkTimeout = TimeSpan.FromMilliseconds(300),
        });
        _ = b; // reads nothing, answers nothing
        await client.Completion.WaitAsync(Guard);
        await Assert.That(client.Error).IsTypeOf<MuxProtocolException>();
        await Assert.That(client.Error!.Message).Contains("dead link");
    }

    [Test]
    public async Task The_client_pings_at_once_and_answers_the_peers_pings()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using var client = YamuxSession.Start(a, isClient: true);
        var frame = new byte[12];
        await b.ReadExactlyAsync(frame).AsTask().WaitAsync(Guard);
        await Assert.That(Hex.Of(frame)).IsEqualTo("000200010000000000000000");
        await b.WriteAsync(Hex.Bytes("000200020000000000000000" + "000200010000000000000005"));
        await b.ReadExactlyAsync(frame).AsTask().WaitAsync(Guard);
        await Assert.That(Hex.Of(frame)).IsEqualTo("000200020000000000000005");
        await Assert.That(client.IsClosed).IsFalse();
    }

    [Test]
    public async Task Disposing_the_session_fails_open_streams()
    {
        var (client, server) = Pair();
        await using var serverScope = server;
        var stream = await client.OpenStreamAsync();
        var reading = stream.ReadAsync(new byte[1]).AsTask();
        await client.DisposeAsync();
        await Assert.That(async () => await reading.WaitAsync(Guard)).Throws<IOException>();
        await server.Completion.WaitAsync(Guard);
    }

    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task A_read_resumes_on_the_read_loop_only_when_the_stream_asks_for_it(bool onReadLoop)
    {
        var (client, server) = Pair();
        await using var clientScope = client;
        await using var serverScope = server;
        var opened = await client.OpenStreamAsync();
        await opened.WriteAsync(new byte[] { 1 });
        var accepted = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        await Assert.That(await accepted.ReadAsync(new byte[1])).IsEqualTo(1);
        accepted.ResumeReadsOnReadLoop = onReadLoop;

        // The read waits (nothing is buffered), then the data arrives: where does the reader go on?
        var resumedIn = ReadThenTakeStack(accepted);
        await opened.WriteAsync(new byte[] { 2, 3 });
        var (read, stack) = await resumedIn.WaitAsync(Guard);

        await Assert.That(read).IsEqualTo(2);
        bool inReadLoop = stack.Contains("ReadLoopAsync", StringComparison.Ordinal);
        if (onReadLoop)
            await Assert.That(inReadLoop).IsTrue();
        else
            await Assert.That(inReadLoop).IsFalse();
    }

    private static async Task<(int Read, string Stack)> ReadThenTakeStack(YamuxStream stream)
    {
        int read = await stream.ReadAsync(new byte[8]);
        return (read, new System.Diagnostics.StackTrace().ToString());
    }

    internal static uint ReadUInt32(byte[] bytes, int offset) => BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset));
}

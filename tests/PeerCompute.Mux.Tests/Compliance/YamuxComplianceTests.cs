using System.Security.Cryptography;

namespace PeerCompute.Mux.Tests.Compliance;

/// <summary>
/// The same yamux behaviours over every carrier it runs on in production (Noise for libp2p, TLS for the tunnel) and
/// over an in-memory pipe: what the muxer promises must not depend on what is under it.
/// </summary>
[Arguments(Carrier.Pipe)]
[Arguments(Carrier.Noise)]
[Arguments(Carrier.Tls)]
public sealed class YamuxComplianceTests(Carrier carrier)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private async Task<Sessions> ConnectAsync(YamuxOptions? options = null)
    {
        using var timeout = new CancellationTokenSource(Guard);
        var (a, b) = await Carriers.ConnectAsync(carrier, timeout.Token);
        return new Sessions(YamuxSession.Start(a, isClient: true, options), YamuxSession.Start(b, isClient: false, options));
    }

    private sealed record Sessions(YamuxSession Client, YamuxSession Server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    /// <summary>Accepts streams and echoes each until its FIN, then half-closes.</summary>
    private static Task EchoAsync(YamuxSession session) => Task.Run(async () =>
    {
        while (await session.AcceptStreamAsync() is { } stream)
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

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory);
        return memory.ToArray();
    }

    private static async Task<YamuxStream> AcceptAsync(YamuxSession session) =>
        (await session.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;

    [Test]
    public async Task Streams_opened_by_either_side_are_accepted_by_the_other()
    {
        await using var pair = await ConnectAsync();

        var fromClient = await pair.Client.OpenStreamAsync();
        await fromClient.WriteAsync(new byte[] { 1 });
        var acceptedByServer = await AcceptAsync(pair.Server);
        var fromServer = await pair.Server.OpenStreamAsync();
        await fromServer.WriteAsync(new byte[] { 2 });
        var acceptedByClient = await AcceptAsync(pair.Client);

        await Assert.That(fromClient.Id).IsEqualTo(1u);
        await Assert.That(acceptedByServer.Id).IsEqualTo(1u);
        await Assert.That(acceptedByServer.IsOutbound).IsFalse();
        await Assert.That(fromServer.Id).IsEqualTo(2u);
        await Assert.That(acceptedByClient.Id).IsEqualTo(2u);
        await Assert.That(pair.Client.StreamCount).IsEqualTo(2);
    }

    [Test]
    public async Task Bytes_flow_both_ways_at_once()
    {
        await using var pair = await ConnectAsync();
        var up = RandomNumberGenerator.GetBytes(300_000);
        var down = RandomNumberGenerator.GetBytes(200_000);

        var stream = await pair.Client.OpenStreamAsync();
        var sending = Task.Run(async () =>
        {
            await stream.WriteAsync(up);
            await stream.CompleteWritesAsync();
        });
        var remote = await AcceptAsync(pair.Server);
        var answering = Task.Run(async () =>
        {
            await remote.WriteAsync(down);
            await remote.CompleteWritesAsync();
        });
        var receivedDown = ReadToEndAsync(stream);
        var receivedUp = await ReadToEndAsync(remote).WaitAsync(Guard);
        await Task.WhenAll(sending, answering).WaitAsync(Guard);

        await Assert.That(receivedUp.AsSpan().SequenceEqual(up)).IsTrue();
        await Assert.That((await receivedDown.WaitAsync(Guard)).AsSpan().SequenceEqual(down)).IsTrue();
    }

    [Test]
    public async Task A_writer_beyond_the_256_KiB_window_waits_for_the_reader()
    {
        await using var pair = await ConnectAsync();
        var data = RandomNumberGenerator.GetBytes(1024 * 1024);

        var stream = await pair.Client.OpenStreamAsync();
        var writing = stream.WriteAsync(data).AsTask();
        var remote = await AcceptAsync(pair.Server);
        using (var timeout = new CancellationTokenSource(Guard))
        {
            while (remote.BufferedBytes < YamuxOptions.InitialWindow)
                await Task.Delay(5, timeout.Token);
        }
        await Task.Delay(100);
        await Assert.That(writing.IsCompleted).IsFalse();
        await Assert.That(remote.BufferedBytes).IsEqualTo(YamuxOptions.InitialWindow);

        var received = new byte[data.Length];
        await remote.ReadExactlyAsync(received).AsTask().WaitAsync(Guard);
        await writing.WaitAsync(Guard);
        await Assert.That(received.AsSpan().SequenceEqual(data)).IsTrue();
    }

    [Test]
    public async Task A_half_closed_stream_still_carries_the_answer()
    {
        await using var pair = await ConnectAsync();
        var stream = await pair.Client.OpenStreamAsync();
        await stream.WriteAsync("question"u8.ToArray());
        await stream.CompleteWritesAsync();

        var remote = await AcceptAsync(pair.Server);
        var question = await ReadToEndAsync(remote).WaitAsync(Guard);
        await remote.WriteAsync("answer"u8.ToArray());
        await remote.CompleteWritesAsync();
        var answer = await ReadToEndAsync(stream).WaitAsync(Guard);

        await Assert.That(System.Text.Encoding.ASCII.GetString(question)).IsEqualTo("question");
        await Assert.That(System.Text.Encoding.ASCII.GetString(answer)).IsEqualTo("answer");
        await Assert.That(remote.IsRemoteClosed).IsTrue();
        await Assert.That(async () => await stream.WriteAsync(new byte[1])).Throws<InvalidOperationException>();
    }

    [Test]
    public async Task A_reset_fails_both_ends()
    {
        await using var pair = await ConnectAsync();
        var stream = await pair.Client.OpenStreamAsync();
        await stream.WriteAsync(new byte[] { 1 });
        var remote = await AcceptAsync(pair.Server);
        await remote.ReadExactlyAsync(new byte[1]).AsTask().WaitAsync(Guard);

        stream.Reset();

        await Assert.That(async () => await remote.ReadAsync(new byte[10]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(async () => await stream.WriteAsync(new byte[1])).Throws<IOException>();
        await Assert.That(stream.IsReset).IsTrue();
    }

    [Test]
    public async Task GoAway_lets_open_streams_finish_and_refuses_new_ones()
    {
        await using var pair = await ConnectAsync();
        var stream = await pair.Client.OpenStreamAsync();
        await stream.WriteAsync(new byte[] { 7 });
        var remote = await AcceptAsync(pair.Server);

        var closing = pair.Server.CloseAsync();
        using (var timeout = new CancellationTokenSource(Guard))
        {
            while (!pair.Client.IsGoingAway)
                await Task.Delay(5, timeout.Token);
        }
        await Assert.That(async () => await pair.Client.OpenStreamAsync()).Throws<IOException>();
        await Assert.That(closing.IsCompleted).IsFalse();
        await remote.ReadExactlyAsync(new byte[1]).AsTask().WaitAsync(Guard);
        await remote.WriteAsync(new byte[] { 8 }).AsTask().WaitAsync(Guard);
        await remote.CompleteWritesAsync();
        await stream.CompleteWritesAsync();
        var back = await ReadToEndAsync(stream).WaitAsync(Guard);

        await closing.WaitAsync(Guard);
        await pair.Client.Completion.WaitAsync(Guard);
        await Assert.That(back).IsEquivalentTo(new byte[] { 8 });
        await Assert.That(pair.Server.Error).IsNull();
        await Assert.That(pair.Client.Error).IsNull();
    }

    [Test]
    public async Task A_hundred_streams_at_once_each_get_their_own_bytes_back()
    {
        await using var pair = await ConnectAsync();
        _ = EchoAsync(pair.Server);

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
        {
            var sent = RandomNumberGenerator.GetBytes(1000 + i * 997);
            var stream = await pair.Client.OpenStreamAsync();
            await stream.WriteAsync(sent);
            await stream.CompleteWritesAsync();
            var echoed = await ReadToEndAsync(stream);
            return echoed.AsSpan().SequenceEqual(sent);
        }))).WaitAsync(Guard);

        await Assert.That(results.All(ok => ok)).IsTrue();
    }
}

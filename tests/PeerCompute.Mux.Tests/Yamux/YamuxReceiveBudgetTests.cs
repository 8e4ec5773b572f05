using PeerCompute.Testing;

namespace PeerCompute.Mux.Tests.Yamux;

/// <summary>
/// The session-wide receive budget: however many streams a peer opens and fills, a session holds at most its budget,
/// streams that do not fit are refused one by one, and grown windows give way to new streams.
/// </summary>
public class YamuxReceiveBudgetTests
{
    private const int Window = YamuxOptions.InitialWindow;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static (YamuxSession Client, YamuxSession Server) Pair(YamuxOptions? client = null, YamuxOptions? server = null)
    {
        var (a, b) = DuplexPipe.CreatePair();
        return (YamuxSession.Start(a, isClient: true, client), YamuxSession.Start(b, isClient: false, server));
    }

    [Test]
    public async Task Many_streams_that_are_never_read_fill_at_most_the_budget_and_the_streams_beyond_it_alone_are_refused()
    {
        const int fit = 8, opened = 12;
        // The ceiling is far above what is opened: only the budget can refuse streams here (and the opener's own
        // open timeout, which would reset unacknowledged streams, is out of reach).
        var (client, server) = Pair(client: new YamuxOptions { OpenTimeout = TimeSpan.FromHours(1) },
            server: new YamuxOptions { MaxStreams = 1024, SessionReceiveBudget = fit * Window });
        await using var clientScope = client;
        await using var serverScope = server;
        var streams = new List<YamuxStream>();
        var writes = new List<Task>();
        for (int i = 0; i < opened; i++)
        {
            var stream = await client.OpenStreamAsync();
            streams.Add(stream);
            // Each writer wants to send 4 windows; nobody reads on the other side.
            writes.Add(Task.Run(async () => await stream.WriteAsync(new byte[4 * Window])));
        }
        var accepted = new List<YamuxStream>();
        for (int i = 0; i < fit; i++)
            accepted.Add((await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!);

        await Eventually.WaitAsync(() => Task.FromResult(accepted.Sum(s => s.BufferedBytes) == fit * Window), "the accepted streams to fill their windows", Guard);
        // The refused streams fail on their own; their writers see the reset.
        foreach (var refused in streams.Skip(fit))
            await Assert.That(async () => await refused.ReadAsync(new byte[1]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        await Assert.That(server.ReceiveWindowReserved).IsLessThanOrEqualTo(fit * Window);
        await Assert.That(server.StreamCount).IsEqualTo(fit);
        await Assert.That(streams.Take(fit).Any(s => s.IsReset)).IsFalse();

        // The accepted streams are whole: reading one delivers everything its writer sent.
        var buffer = new byte[64 * 1024];
        long total = 0;
        while (total < 4 * Window)
            total += await accepted[0].ReadAsync(buffer).AsTask().WaitAsync(Guard);
        await writes[0].WaitAsync(Guard);
        await Assert.That(total).IsEqualTo(4L * Window);
        await Assert.That(accepted.Sum(s => s.BufferedBytes)).IsEqualTo((fit - 1) * (long)Window);
    }

    [Test]
    public async Task Our_open_beyond_the_ceiling_or_the_budget_fails_with_a_limit_error_and_the_open_streams_carry_on()
    {
        var (byCeiling, ceilingPeer) = Pair(client: new YamuxOptions { MaxStreams = 2 });
        var (byBudget, budgetPeer) = Pair(client: new YamuxOptions { SessionReceiveBudget = 2 * Window });
        await using var s1 = byCeiling;
        await using var s2 = ceilingPeer;
        await using var s3 = byBudget;
        await using var s4 = budgetPeer;

        foreach (var (session, peer) in new[] { (byCeiling, ceilingPeer), (byBudget, budgetPeer) })
        {
            var first = await session.OpenStreamAsync();
            var second = await session.OpenStreamAsync();

            await Assert.That(async () => await session.OpenStreamAsync()).Throws<YamuxStreamLimitException>();

            await first.WriteAsync(new byte[] { 42 });
            var remote = (await peer.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
            var one = new byte[1];
            await remote.ReadExactlyAsync(one).AsTask().WaitAsync(Guard);
            await Assert.That(one[0]).IsEqualTo((byte)42);
            await Assert.That(first.IsReset || second.IsReset).IsFalse();

            // A stream that ends gives its room back.
            second.Reset();
            var third = await session.OpenStreamAsync();
            await Assert.That(third.IsReset).IsFalse();
        }
    }

    [Test]
    public async Task A_grown_window_shrinks_back_when_new_streams_need_the_budget()
    {
        const long budget = 16 * Window;
        // Growth on every credit return, so the fast stream's window is as large as the budget lets it be.
        var (client, server) = Pair(server: new YamuxOptions { SessionReceiveBudget = budget, WindowGrowthThreshold = TimeSpan.FromHours(1) });
        await using var clientScope = client;
        await using var serverScope = server;
        var fast = await client.OpenStreamAsync();
        var fastRemote = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        await Transfer(fast, fastRemote, 32 * Window);
        long grown = fastRemote.ReceiveWindow;

        // New streams take what growth left free; the next one does not fit and is refused.
        long fit = (budget - server.ReceiveWindowReserved) / Window;
        var opened = new List<YamuxStream>();
        for (long i = 0; i < fit; i++)
        {
            await client.OpenStreamAsync();
            opened.Add((await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!);
        }
        var refused = await client.OpenStreamAsync();
        await Assert.That(async () => await refused.ReadAsync(new byte[1]).AsTask().WaitAsync(Guard)).Throws<IOException>();
        long reservedWhenFull = server.ReceiveWindowReserved;

        // Traffic on the grown stream returns less credit than it consumes until the budget has room again.
        await Transfer(fast, fastRemote, 32 * Window);
        var after = await client.OpenStreamAsync();
        await after.WriteAsync(new byte[] { 7 });
        var afterRemote = (await server.AcceptStreamAsync().AsTask().WaitAsync(Guard))!;
        var seven = new byte[1];
        await afterRemote.ReadExactlyAsync(seven).AsTask().WaitAsync(Guard);

        await Assert.That(grown).IsGreaterThan(4L * Window);
        await Assert.That(opened.Any(s => s.IsReset)).IsFalse();
        await Assert.That(reservedWhenFull).IsLessThanOrEqualTo(budget);
        await Assert.That(fastRemote.ReceiveWindow).IsLessThan(grown);
        await Assert.That(fastRemote.ReceiveWindow).IsGreaterThanOrEqualTo((long)Window);
        await Assert.That(seven[0]).IsEqualTo((byte)7);
        await Assert.That(server.ReceiveWindowReserved).IsLessThanOrEqualTo(budget);
    }

    /// <summary>Sends <paramref name="bytes"/> on <paramref name="sending"/> and reads them all on <paramref name="receiving"/>.</summary>
    private static async Task Transfer(YamuxStream sending, YamuxStream receiving, long bytes)
    {
        var writing = Task.Run(async () => await sending.WriteAsync(new byte[bytes]));
        var buffer = new byte[1024 * 1024];
        long read = 0;
        while (read < bytes)
            read += await receiving.ReadAsync(buffer).AsTask().WaitAsync(Guard);
        await writing.WaitAsync(Guard);
    }
}

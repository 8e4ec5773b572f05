using System.Buffers;
using System.Threading.RateLimiting;
using PeerCompute.Mux;

namespace PeerCompute.Net.Relay;

/// <summary>How a relayed circuit ended.</summary>
public enum CircuitEnd
{
    /// <summary>Both ends closed their side.</summary>
    Closed,

    /// <summary>One direction carried the data limit; the relay reset both streams.</summary>
    DataLimit,

    /// <summary>The circuit outlived its duration limit; the relay reset both streams.</summary>
    DurationLimit,

    /// <summary>One end reset its stream or its connection went away.</summary>
    Broken,

    /// <summary>The relay is shutting down.</summary>
    Shutdown,
}

/// <summary>
/// Carries the bytes of one circuit between the caller's hop stream and the target's stop stream, each direction on its
/// own, within the circuit's limits. A half-close is passed on (the other direction goes on); a limit reached, or a
/// reset on either side, resets both. The relay never looks into the bytes: they are the two ends' Noise session.
/// </summary>
internal static class CircuitSplice
{
    private const int BufferSize = 64 * 1024;

    /// <param name="bandwidth">Shared by every circuit of the reserved peer; one permit is one byte.</param>
    /// <returns>How the circuit ended, and the bytes it carried in both directions together.</returns>
    public static async Task<(CircuitEnd End, long Bytes)> RunAsync(YamuxStream caller, YamuxStream target, long? dataLimit, TimeSpan? duration,
        RateLimiter? bandwidth, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (duration is { } limit)
            stop.CancelAfter(limit);
        var counted = new long[2];
        var up = PumpAsync(caller, target, dataLimit, bandwidth, counted, 0, stop.Token);
        var down = PumpAsync(target, caller, dataLimit, bandwidth, counted, 1, stop.Token);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        var end = await first.ConfigureAwait(false);
        if (end == CircuitEnd.Closed)
            end = await (first == up ? down : up).ConfigureAwait(false);
        if (end != CircuitEnd.Closed)
        {
            if (end == CircuitEnd.Broken && stop.IsCancellationRequested)
                end = cancellationToken.IsCancellationRequested ? CircuitEnd.Shutdown : CircuitEnd.DurationLimit;
            caller.Reset();
            target.Reset();
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        return (end, counted[0] + counted[1]);
    }

    /// <summary>One direction, until the source's end (passed on as a half-close), a limit or a failure; never throws.</summary>
    private static async Task<CircuitEnd> PumpAsync(YamuxStream from, YamuxStream to, long? dataLimit, RateLimiter? bandwidth,
        long[] counted, int direction, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long carried = 0;
        try
        {
            while (true)
            {
                int n = await from.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    await to.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                    return CircuitEnd.Closed;
                }
                bool over = dataLimit is { } max && carried + n > max;
                if (over)
                    n = (int)(dataLimit!.Value - carried);
                if (n > 0)
                {
                    if (bandwidth is not null)
                        await AcquireAsync(bandwidth, n, cancellationToken).ConfigureAwait(false);
                    await to.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    carried += n;
                    counted[direction] = carried;
                }
                if (over)
                    return CircuitEnd.DataLimit;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or MuxProtocolException)
        {
            return CircuitEnd.Broken;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task AcquireAsync(RateLimiter bandwidth, int bytes, CancellationToken cancellationToken)
    {
        // A token bucket hands out at most its size at once: ask in pieces no larger than that.
        while (bytes > 0)
        {
            int piece = Math.Min(bytes, BufferSize);
            using var lease = await bandwidth.AcquireAsync(piece, cancellationToken).ConfigureAwait(false);
            if (!lease.IsAcquired)
                throw new OperationCanceledException("relay bandwidth queue is full");
            bytes -= piece;
        }
    }

    /// <summary>A byte budget per second for one reserved peer: a token bucket refilled ten times a second.</summary>
    public static TokenBucketRateLimiter Bandwidth(long bytesPerSecond)
    {
        int perTick = (int)Math.Clamp(bytesPerSecond / 10, 1, int.MaxValue);
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(perTick, BufferSize),
            TokensPerPeriod = perTick,
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
            AutoReplenishment = true,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }
}

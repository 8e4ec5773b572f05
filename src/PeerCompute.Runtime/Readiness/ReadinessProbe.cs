using System.Net;

namespace PeerCompute.Runtime.Readiness;

/// <summary>
/// Repeats an <see cref="IReadinessCheck"/> against one endpoint until it answers, the container stops, or the deadline
/// passes. Polling is the only way here: nothing tells when a process inside a container starts to listen. The first
/// attempts are close together (a deploy's latency waits on them), later ones back off. Whether the container still
/// runs is asked beside the attempts, never between them: an engine call must not delay the attempt that succeeds.
/// </summary>
internal static class ReadinessProbe
{
    /// <param name="stillRunning">Asked about every <see cref="ReadinessOptions.StateInterval"/>: false ends the wait as <see cref="ReadinessOutcome.NotRunning"/>.</param>
    public static async Task<ReadinessOutcome> WaitAsync(IReadinessCheck check, IPEndPoint endpoint, ReadinessOptions options,
        Func<CancellationToken, Task<bool>> stillRunning, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(options.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var interval = options.FirstInterval;
        long lastStateCheck = time.GetTimestamp();
        Task<bool>? state = null;
        try
        {
            while (true)
            {
                using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(linked.Token))
                {
                    attempt.CancelAfter(options.AttemptTimeout);
                    try
                    {
                        if (await check.AnswersAsync(endpoint, attempt.Token).ConfigureAwait(false))
                            return ReadinessOutcome.Ready;
                    }
                    catch (OperationCanceledException) when (!linked.IsCancellationRequested)
                    {
                        // This attempt took too long; the next one may not.
                    }
                }
                if (state is { IsCompleted: true })
                {
                    if (!await state.ConfigureAwait(false))
                        return ReadinessOutcome.NotRunning;
                    state = null;
                    lastStateCheck = time.GetTimestamp();
                }
                if (state is null && time.GetElapsedTime(lastStateCheck) >= options.StateInterval)
                    state = stillRunning(linked.Token);
                await Task.Delay(interval, time, linked.Token).ConfigureAwait(false);
                interval = TimeSpan.FromTicks(Math.Min((long)(interval.Ticks * options.Backoff), options.MaxInterval.Ticks));
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            if (state is not null)
            {
                try
                {
                    await state.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
            state = null;
            return await stillRunning(cancellationToken).ConfigureAwait(false) ? ReadinessOutcome.NotAnswering : ReadinessOutcome.NotRunning;
        }
        finally
        {
            // An answer can come while the engine is still being asked: that question's outcome no longer matters.
            _ = state?.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }
}

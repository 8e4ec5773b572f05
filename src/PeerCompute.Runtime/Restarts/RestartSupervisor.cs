using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Restarts;

/// <summary>
/// Holds crash-looping containers back while the provider runs. The engine's restart policy stays on every container
/// (so its own backoff, 100 ms doubling to a minute, keeps restarting them while the provider is down); while the
/// provider runs, each exit the policy would restart is seen as it happens (the engine's events), the engine's pending
/// restart is cancelled (a stop), and the provider starts the container itself after its own backoff:
/// <see cref="RuntimeOptions.RestartBackoffInitial"/> doubling up to <see cref="RuntimeOptions.RestartBackoffMax"/>,
/// starting over once a run lasted <see cref="RuntimeOptions.RestartResetAfter"/>. A crash loop therefore costs one
/// start per backoff period, and the provider a few engine calls per start.
/// </summary>
/// <remarks>
/// The hold is written to the record (<see cref="DeploymentRecord.HeldUntil"/>): a provider that starts again resumes
/// it, and one that shuts down starts the held containers so that the engine's policy owns them again.
/// </remarks>
internal sealed class RestartSupervisor : IAsyncDisposable
{
    private static readonly TimeSpan WatchRetryMax = TimeSpan.FromSeconds(30);

    private readonly RuntimeOptions _options;
    private readonly IContainerEngine _engine;
    private readonly DeploymentStore _store;
    private readonly ConcurrentDictionary<string, TrackedDeployment> _deployments;
    private readonly RouteTable _routes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _pending = new();
    private Task? _watch;

    public RestartSupervisor(RuntimeOptions options, IContainerEngine engine, DeploymentStore store,
        ConcurrentDictionary<string, TrackedDeployment> deployments, RouteTable routes, TimeProvider time, ILogger logger)
    {
        _options = options;
        _engine = engine;
        _store = store;
        _deployments = deployments;
        _routes = routes;
        _time = time;
        _logger = logger;
    }

    /// <summary>The wait before the start after the <paramref name="streak"/>-th short run in a row (1-based).</summary>
    public static TimeSpan Backoff(int streak, TimeSpan initial, TimeSpan max)
    {
        double factor = Math.Pow(2, Math.Clamp(streak - 1, 0, 40));
        return TimeSpan.FromTicks((long)Math.Min(initial.Ticks * factor, max.Ticks));
    }

    /// <summary>Resumes the holds of a provider that stopped while it held containers, and follows exits from now on.</summary>
    public void Start()
    {
        if (_watch is not null)
            return;
        foreach (var tracked in _deployments.Values)
        {
            if (tracked.Record is { Phase: RecordPhase.Active, HeldUntil: { } until })
                Schedule(tracked, until);
        }
        _watch = WatchAsync(_stop.Token);
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var retry = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var exit in _engine.WatchExitsAsync(_options.Instance, cancellationToken).ConfigureAwait(false))
                {
                    retry = TimeSpan.FromSeconds(1);
                    await OnExitAsync(exit, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RuntimeException or IOException or HttpRequestException)
            {
                // The engine restarted or went away: its policy restarts what exits meanwhile.
                _logger.LogWarning("Following container exits failed ({Reason}); trying again in {Seconds} s", ex.Message, retry.TotalSeconds);
            }
            try
            {
                await Task.Delay(retry, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, WatchRetryMax.Ticks));
        }
    }

    private async Task OnExitAsync(ContainerExit exit, CancellationToken cancellationToken)
    {
        if (exit.DeploymentId is not { } id || !_deployments.TryGetValue(id, out var tracked))
            return;
        // The gate is held for the record's changes only, not across the engine's stop: a reconcile pass skips a
        // deployment whose gate is taken, and a container removed behind the runtime's back exits too.
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (!IsCrash(record, exit))
                return;
            record.LastExitCode = exit.ExitCode;
            record.LastExitAt = exit.Time;
            if (!PolicyRestarts(record, exit.ExitCode))
            {
                record.UpdatedAt = _time.GetUtcNow();
                await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                _routes.Set(record.Spec.Name, null, null, null);
                return;
            }
        }
        finally
        {
            tracked.Gate.Release();
        }
        try
        {
            // Cancels the engine's pending restart (or ends the run it already began): from here the provider starts it.
            await _engine.StopContainerAsync(exit.ContainerId, TimeSpan.FromSeconds(1), $"holding {tracked.Record.Spec.Name} back after exit {exit.ExitCode}", cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex)
        {
            _logger.LogWarning("Could not hold deployment {Id} back after its exit ({Reason}); the engine's policy restarts it", id, ex.Message);
            return;
        }
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (!IsCrash(record, exit))
                return;
            // A run the provider did not start (the deploy's, or the engine's while the provider was down) counts as long.
            bool longRun = record.LastStartAt is not { } started || exit.Time - started >= _options.RestartResetAfter;
            record.CrashStreak = longRun ? 1 : record.CrashStreak + 1;
            var delay = Backoff(record.CrashStreak, _options.RestartBackoffInitial, _options.RestartBackoffMax);
            var until = exit.Time + delay;
            record.HeldUntil = until;
            record.UpdatedAt = _time.GetUtcNow();
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
            _routes.Set(record.Spec.Name, null, null, null);
            _logger.LogInformation("Deployment {Id} ({Name}) exited with {Code}; start {Streak} of a crash loop in {Delay} s", record.Id, record.Spec.Name, exit.ExitCode, record.CrashStreak, delay.TotalSeconds);
            Schedule(tracked, until);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    /// <summary>
    /// A stop by the owner, or the provider's own stop of a held container, is no crash; nor is an exit the engine
    /// reported late, of a run before the provider's last start (the engine restarts a crashed process within 100 ms,
    /// so a loop can exit again while the provider is still holding it back).
    /// </summary>
    private static bool IsCrash(DeploymentRecord record, ContainerExit exit)
        => record.Phase == RecordPhase.Active && record.ContainerId == exit.ContainerId && record.HeldUntil is null
            && !(record.LastStartAt is { } lastStart && exit.Time < lastStart);

    /// <summary>Whether the container's restart policy (the deployment's, else the provider's) restarts after this exit.</summary>
    private bool PolicyRestarts(DeploymentRecord record, long exitCode)
    {
        var mode = record.Spec.Restart ?? _options.RestartPolicy switch
        {
            ContainerRestartPolicy.No => RestartMode.No,
            ContainerRestartPolicy.OnFailure => RestartMode.OnFailure,
            _ => RestartMode.UnlessStopped,
        };
        return mode == RestartMode.UnlessStopped || (mode == RestartMode.OnFailure && exitCode != 0);
    }

    private void Schedule(TrackedDeployment tracked, DateTimeOffset until)
    {
        var task = ResumeAsync(tracked, until, _stop.Token);
        _pending[task] = 0;
        _ = task.ContinueWith(t => _pending.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ResumeAsync(TrackedDeployment tracked, DateTimeOffset until, CancellationToken cancellationToken)
    {
        try
        {
            var wait = until - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            await StartHeldAsync(tracked, until, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Starts a held container, unless it was stopped, removed or held again meanwhile.</summary>
    private async Task StartHeldAsync(TrackedDeployment tracked, DateTimeOffset? until, CancellationToken cancellationToken)
    {
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (!_deployments.TryGetValue(record.Id, out var current) || current != tracked || record.Phase != RecordPhase.Active
                || record.HeldUntil is not { } held || (until is not null && held != until) || record.ContainerId is not { } containerId)
                return;
            record.HeldUntil = null;
            record.ProviderRestarts++;
            record.LastStartAt = _time.GetUtcNow();
            record.UpdatedAt = record.LastStartAt.Value;
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
            await _engine.StartContainerAsync(containerId, $"starting {record.Spec.Name} again", cancellationToken).ConfigureAwait(false);
            var facts = await _engine.InspectContainerAsync(containerId, $"inspecting {record.Spec.Name}", cancellationToken).ConfigureAwait(false);
            _routes.Set(record.Spec.Name, StatusProjection.UpstreamOf(StatusProjection.Project(record, facts, _time.GetUtcNow())), DeploymentAccess.For(record), record.Spec.Domains);
        }
        catch (RuntimeException ex)
        {
            _logger.LogWarning(ex, "Could not start held deployment {Id} again", tracked.Record.Id);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    /// <summary>Stops following exits; the containers it holds are started, so the engine's policy owns them while the provider is down.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in _pending.Keys.Append(_watch ?? Task.CompletedTask))
            await task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        using var handBack = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        foreach (var tracked in _deployments.Values.Where(t => t.Record is { Phase: RecordPhase.Active, HeldUntil: not null }))
        {
            try
            {
                await StartHeldAsync(tracked, until: null, handBack.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        _stop.Dispose();
    }
}

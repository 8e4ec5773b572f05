using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Health;

/// <summary>
/// Runs each active deployment's own health check (<see cref="DeploymentSpec.Health"/>) from the provider against the
/// container's bridge address, every interval: healthy after a success, unhealthy after the retries in a row failed
/// (failures within the start period after a start do not count), starting again after every start. Nothing runs
/// inside the container, so images without tools (no wget, no shell) are checked the same way.
/// </summary>
/// <remarks>
/// The set of deployments is followed by looking at the runtime's records once a second (no hook in the lifecycle):
/// a check starts within a second of a deploy, and stops with its deployment. The state lives in memory: after a
/// provider restart a deployment is "starting" until its next check.
/// </remarks>
internal sealed class HealthMonitor : IAsyncDisposable
{
    public const string Source = "provider";
    private static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(1);

    private readonly IContainerEngine _engine;
    private readonly ConcurrentDictionary<string, TrackedDeployment> _deployments;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public HealthMonitor(IContainerEngine engine, ConcurrentDictionary<string, TrackedDeployment> deployments, TimeProvider time, ILogger logger)
    {
        _engine = engine;
        _deployments = deployments;
        _time = time;
        _logger = logger;
    }

    public void Start() => _loop ??= RunAsync(_stop.Token);

    /// <summary>The provider's view of a deployment's health; null when it has no check of the provider's.</summary>
    public HealthReport? ReportFor(DeploymentRecord record)
    {
        if (record.Spec.Health is null)
            return null;
        return _watches.TryGetValue(record.Id, out var watch) && watch.ContainerId == record.ContainerId
            ? watch.Report
            : new HealthReport(HealthState.Starting, Source, null, null);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(SyncInterval, _time);
        do
        {
            Sync();
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    private void Sync()
    {
        foreach (var tracked in _deployments.Values)
        {
            var record = tracked.Record;
            if (record is { Phase: RecordPhase.Active, Spec.Health: not null, ContainerId: { } containerId }
                && (!_watches.TryGetValue(record.Id, out var existing) || existing.ContainerId != containerId))
            {
                existing?.Cancel();
                var watch = new Watch(this, record.Id, containerId, record.Spec, _stop.Token);
                _watches[record.Id] = watch;
                watch.Begin();
            }
        }
        foreach (var (id, watch) in _watches)
        {
            if (!_deployments.TryGetValue(id, out var tracked) || tracked.Record.Phase != RecordPhase.Active || tracked.Record.ContainerId != watch.ContainerId)
            {
                watch.Cancel();
                _watches.TryRemove(new KeyValuePair<string, Watch>(id, watch));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        foreach (var watch in _watches.Values)
            await watch.EndAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>One deployment's checks, for one container.</summary>
    private sealed class Watch
    {
        private readonly HealthMonitor _monitor;
        private readonly string _id;
        private readonly DeploymentSpec _spec;
        private readonly HealthCheckSpec _check;
        private readonly CancellationTokenSource _cancel;
        private Task? _run;

        public Watch(HealthMonitor monitor, string id, string containerId, DeploymentSpec spec, CancellationToken stop)
        {
            _monitor = monitor;
            _id = id;
            ContainerId = containerId;
            _spec = spec;
            _check = spec.Health!;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        }

        public string ContainerId { get; }

        public HealthReport Report { get; private set; } = new(HealthState.Starting, Source, null, null);

        public void Begin() => _run = RunAsync(_cancel.Token);

        public void Cancel() => _cancel.Cancel();

        public async Task EndAsync()
        {
            _cancel.Cancel();
            if (_run is not null)
                await _run.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            _cancel.Dispose();
        }

        private async Task RunAsync(CancellationToken cancellationToken)
        {
            var time = _monitor._time;
            IReadinessCheck check = _check.Kind == HealthCheckKind.Http ? new HttpHealthCheck(_check.Path!) : TcpReadinessCheck.Instance;
            int failures = 0;
            DateTimeOffset? run = null;
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var facts = await _monitor._engine.InspectContainerAsync(ContainerId, $"inspecting {_spec.Name} for its health check", cancellationToken).ConfigureAwait(false);
                    if (facts is not { Running: true, Restarting: false, Address: { } address })
                    {
                        // Not running: the next run starts over, like the engine's own checks.
                        failures = 0;
                        run = null;
                        Report = Report with { State = HealthState.Starting };
                    }
                    else
                    {
                        if (facts.StartedAt != run)
                        {
                            run = facts.StartedAt;
                            failures = 0;
                            Report = Report with { State = HealthState.Starting };
                        }
                        string? failure = await CheckAsync(check, new IPEndPoint(address, _spec.ContainerPort), cancellationToken).ConfigureAwait(false);
                        if (failure is null)
                        {
                            if (Report.State != HealthState.Healthy)
                                _monitor._logger.LogInformation("Deployment {Id} ({Name}) is healthy", _id, _spec.Name);
                            failures = 0;
                            Report = Report with { State = HealthState.Healthy };
                        }
                        else
                        {
                            var now = time.GetUtcNow();
                            bool starting = run is { } started && now - started < _check.StartPeriod;
                            if (!starting)
                                failures++;
                            var state = failures >= _check.Retries ? HealthState.Unhealthy : Report.State;
                            if (state == HealthState.Unhealthy && Report.State != HealthState.Unhealthy)
                                _monitor._logger.LogWarning("Deployment {Id} ({Name}) is unhealthy: {Reason}", _id, _spec.Name, failure);
                            Report = new HealthReport(state, Source, now, failure);
                        }
                    }
                }
                catch (RuntimeException ex)
                {
                    _monitor._logger.LogDebug(ex, "Health check of {Id} could not ask the engine", _id);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                try
                {
                    await Task.Delay(_check.Interval, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        /// <summary>Null when the check passed, else why not.</summary>
        private async Task<string?> CheckAsync(IReadinessCheck check, IPEndPoint endpoint, CancellationToken cancellationToken)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(_check.Timeout);
            try
            {
                if (await check.AnswersAsync(endpoint, attempt.Token).ConfigureAwait(false))
                    return null;
                return check is HttpHealthCheck http ? http.LastFailure : $"nothing accepted a connection on {check.Describe(endpoint.Port)}";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return $"{check.Describe(endpoint.Port)}: no answer within {_check.Timeout.TotalSeconds:0.###} s";
            }
        }
    }
}

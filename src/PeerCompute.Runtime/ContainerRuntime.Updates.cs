using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime;

/// <summary>
/// Updates: a deployment is the stable thing (its id, name and public URL never change), each container one of its
/// revisions. A rolling update starts the new container beside the old one, moves the route once the new one is
/// ready, lets the old one finish its connections, then stops it; a failed one leaves the old container serving.
/// </summary>
public sealed partial class ContainerRuntime
{
    /// <summary>The admission key that holds an update's second container during the overlap.</summary>
    private static string OverlapKey(string id) => id + "/update";

    public async Task<UpdateResult> UpdateAsync(string id, string owner, DeploymentSpec spec, UpdateOptions options, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        ArgumentNullException.ThrowIfNull(options);
        var tracked = Find(id, owner);
        if (spec.Name != tracked.Record.Spec.Name)
            throw new RuntimeException(RuntimeErrorCode.InvalidSpec, $"an update keeps the deployment's name ({tracked.Record.Spec.Name}), not {spec.Name}");
        ImageReference image = DeploymentSpecValidator.Validate(spec, _options);
        long? writableCap = WritableLayerCap(spec);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await UpdateCoreAsync(tracked.Record, spec, image, writableCap, options, rollbackOf: null, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    public async Task<UpdateResult> RollbackAsync(string id, string owner, UpdateOptions options, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ArgumentNullException.ThrowIfNull(options);
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            // The revision that served before the current one: the newest replaced one older than it.
            var previous = record.Revisions.LastOrDefault(r => r.Number < record.Revision && r.Result is RevisionResult.Replaced or RevisionResult.RolledBack)
                ?? throw new RuntimeException(RuntimeErrorCode.NotFound, $"{record.Spec.Name} has no earlier revision to roll back to (see its history)");
            // Custom domains are the deployment's, not a revision's (`peerctl domain add` changes no container): they stay.
            var spec = previous.Spec with { Domains = record.Spec.Domains };
            ImageReference image = DeploymentSpecValidator.Validate(spec, _options);
            long? writableCap = WritableLayerCap(spec);
            return await UpdateCoreAsync(record, spec, image, writableCap, options, previous.Number, progress: null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    public Task<IReadOnlyList<DeploymentRevision>> GetHistoryAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var record = Find(id, owner).Record;
        IReadOnlyList<DeploymentRevision> history = record.Revisions.Count == 0
            // A record from before updates existed: its one revision.
            ? [new DeploymentRevision(record.Revision, record.Spec.Image, null, record.CreatedAt, RevisionResult.Running, null, null)]
            : [.. record.Revisions.Select(r => new DeploymentRevision(r.Number, r.Spec.Image, r.ImageDigest, r.CreatedAt, r.Result, r.Reason, r.RollbackOf))];
        return Task.FromResult(history);
    }

    public async IAsyncEnumerable<ContainerLogLine> ReadPreviousLogsAsync(string id, string owner,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var record = Find(id, owner).Record;
        var lines = await _previousLogs.ReadAsync(record.Id, cancellationToken).ConfigureAwait(false)
            ?? throw new RuntimeException(RuntimeErrorCode.NotFound, $"{record.Spec.Name} has no previous container's log: none was replaced yet (a restarted container keeps its log: see it without --previous)");
        foreach (var line in lines)
            yield return line;
    }

    private async Task<UpdateResult> UpdateCoreAsync(DeploymentRecord record, DeploymentSpec spec, ImageReference image, long? writableCap, UpdateOptions options,
        int? rollbackOf, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        string? oldContainer = record.Phase == RecordPhase.Vanished ? null : record.ContainerId;
        bool oldServing = record.Phase == RecordPhase.Active;
        bool recreate = options.Strategy == UpdateStrategy.Recreate || !oldServing;
        var oldSpec = record.Spec;
        int revision = Math.Max(record.Revision, record.Revisions.Count == 0 ? 0 : record.Revisions.Max(r => r.Number)) + 1;

        // Admission first: nothing is pulled or created for an update there is no room for.
        if (recreate)
        {
            // The new container takes the old one's place: it must fit once the old one's share is free.
            _admission.Release(record.Id);
            try
            {
                _admission.Admit(record.Id, spec.CpuMillicores, spec.MemoryBytes);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.CapacityExceeded)
            {
                if (record.HoldsCapacity)
                    _admission.Restore(record.Id, oldSpec.CpuMillicores, oldSpec.MemoryBytes);
                throw new RuntimeException(ex.Code, $"no room on this provider for the new version of {spec.Name}: {ex.Message}", ex);
            }
        }
        else
        {
            try
            {
                _admission.Admit(OverlapKey(record.Id), spec.CpuMillicores, spec.MemoryBytes);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.CapacityExceeded)
            {
                throw new RuntimeException(ex.Code,
                    $"no room on this provider to run the new version of {spec.Name} beside the running one during the switch ({ex.Message}); "
                    + "free some room, or update with --strategy recreate (stops the running version first, so it is down while the new one starts)", ex);
            }
        }

        var candidate = new DeploymentRecord
        {
            Id = record.Id,
            Owner = record.Owner,
            Spec = spec,
            SpecHash = SpecHash.Compute(spec),
            CreatedAt = record.CreatedAt,
            UpdatedAt = _time.GetUtcNow(),
            Phase = RecordPhase.Active,
            Revision = revision,
        };
        string? newContainer = null;
        string? digest = null;
        bool oldStopped = false;
        List<ClaimedVolume> volumes = [];
        Task<IReadOnlyList<VolumeBind>> volumesReady = Task.FromResult<IReadOnlyList<VolumeBind>>([]);
        try
        {
            if (spec.VolumeMounts is { Count: > 0 } && _loopVolumes.Problem is { } volumesProblem)
                throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, volumesProblem);
            volumes = ClaimUpdateVolumes(spec, record.Owner);
            volumesReady = PrepareVolumesAsync(volumes, cancellationToken);
            var egress = _egress.EnsureDeployAllowedAsync(cancellationToken);
            var ensured = await _images.EnsureAsync(image, record.Owner, spec.RegistryCredentials, progress, cancellationToken).ConfigureAwait(false);
            digest = ensured.Id;
            var facts = await _engine.InspectImageAsync(ensured.Id, cancellationToken).ConfigureAwait(false);
            await EnsureImageFitsAsync(image, facts, removeWhenTooLarge: ensured.Pulled).ConfigureAwait(false);
            if (spec.ContainerPort == DeploymentSpec.PortFromImage)
            {
                spec = spec with { ContainerPort = PortOf(image, facts) };
                candidate.Spec = spec;
                candidate.SpecHash = SpecHash.Compute(spec);
            }
            await egress.ConfigureAwait(false);

            if (recreate && oldContainer is not null && oldServing)
            {
                Routes.Set(oldSpec.Name, null, null, null);
                await StopQuietlyAsync(oldContainer, oldSpec.Name).ConfigureAwait(false);
                oldStopped = true;
            }
            var binds = await volumesReady.ConfigureAwait(false);
            newContainer = await _engine.CreateContainerAsync(ContainerDefinition.For(candidate, image, _options, writableCap, binds), $"creating the new container for {spec.Name}", cancellationToken).ConfigureAwait(false);
            candidate.ContainerId = newContainer;
            record.NextContainerId = newContainer;
            await _store.SaveAsync(record, cancellationToken).ConfigureAwait(false);
            await _engine.StartContainerAsync(newContainer, $"starting the new container for {spec.Name}", cancellationToken).ConfigureAwait(false);

            var started = await StatusCoreAsync(candidate, includeUsage: false, cancellationToken).ConfigureAwait(false);
            var ready = options.Readiness is { } readiness
                ? await WaitReadyCoreAsync(candidate, started, readiness, cancellationToken).ConfigureAwait(false)
                : started.State == DeploymentState.Running ? new ReadinessResult(ReadinessOutcome.Ready, started, []) : new ReadinessResult(ReadinessOutcome.NotRunning, started, []);
            // An app's private service publishes no port: it has no route to switch, only its container to replace.
            var upstream = StatusProjection.UpstreamOf(ready.Status);
            if (ready.Outcome != ReadinessOutcome.Ready || ready.Status.State != DeploymentState.Running || (upstream is null && !spec.Private))
            {
                string reason = ready.Outcome == ReadinessOutcome.NotAnswering
                    ? $"the new container did not answer on port {spec.ContainerPort} within {options.Readiness!.Timeout.TotalSeconds:0.#} s"
                    : ready.Status.ExitCode is { } code ? $"the new container exited with code {code}{(ready.Status.OomKilled ? " (out of memory)" : "")}"
                    : ready.Status.RestartCount > started.RestartCount ? $"the new container exited and was restarted {ready.Status.RestartCount - started.RestartCount} time(s) by its restart policy"
                    : $"the new container is {ready.Status.State.ToString().ToLowerInvariant()}, not running";
                var lines = await TryTailAsync(newContainer, cancellationToken).ConfigureAwait(false);
                throw new UpdateFailedException(reason, lines);
            }

            // The switch: from here on new connections reach the new container; those the old one holds finish there.
            var oldRevision = record.Revisions.LastOrDefault(r => r.Number == record.Revision);
            record.Spec = spec;
            record.SpecHash = candidate.SpecHash;
            record.ContainerId = newContainer;
            record.NextContainerId = null;
            record.Revision = revision;
            record.Phase = RecordPhase.Active;
            record.Reason = null;
            record.UpdatedAt = _time.GetUtcNow();
            if (oldRevision is not null)
                oldRevision.Result = rollbackOf is null ? RevisionResult.Replaced : RevisionResult.RolledBack;
            AddRevision(record, new RevisionRecord { Number = revision, Spec = spec, ImageDigest = digest, CreatedAt = candidate.UpdatedAt, Result = RevisionResult.Running, RollbackOf = rollbackOf });
            _admission.Release(OverlapKey(record.Id));
            _admission.Release(record.Id);
            _admission.Restore(record.Id, spec.CpuMillicores, spec.MemoryBytes);
            Routes.Set(spec.Name, upstream, DeploymentAccess.For(record), record.Spec.Domains);
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
            _logger.LogInformation("Updated {Id} ({Name}) to revision {Revision} ({Image}) as container {Container}", record.Id, spec.Name, revision, spec.Image, newContainer);

            if (oldContainer is not null)
                await RetireAsync(record.Id, oldContainer, oldSpec, drain: !oldStopped).ConfigureAwait(false);
            return new UpdateResult(ready.Status, revision);
        }
        catch (Exception ex)
        {
            if (newContainer is not null)
                await RetireAsync(record.Id, newContainer, spec, drain: false).ConfigureAwait(false);
            // A volume still being made is waited for before it is dropped (its failure is this one's consequence).
            await volumesReady.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            await DropCreatedVolumesAsync(volumes).ConfigureAwait(false);
            record.NextContainerId = null;
            _admission.Release(OverlapKey(record.Id));
            if (recreate)
            {
                _admission.Release(record.Id);
                if (record.HoldsCapacity)
                    _admission.Restore(record.Id, oldSpec.CpuMillicores, oldSpec.MemoryBytes);
            }
            if (oldStopped)
                await RestartOldAsync(record, oldContainer!).ConfigureAwait(false);
            if (ex is UpdateFailedException failed)
            {
                AddRevision(record, new RevisionRecord { Number = revision, Spec = spec, ImageDigest = digest, CreatedAt = candidate.UpdatedAt, Result = RevisionResult.Failed, Reason = failed.Reason, RollbackOf = rollbackOf });
                await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                throw new RuntimeException(RuntimeErrorCode.UpdateFailed, failed.Message);
            }
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
            if (ex is RuntimeException or OperationCanceledException)
                throw;
            throw new RuntimeException(RuntimeErrorCode.DockerError, $"updating {spec.Name}: {ex.Message}", ex);
        }
    }

    private void AddRevision(DeploymentRecord record, RevisionRecord revision)
    {
        if (record.Revisions.Count == 0 && record.Revision < revision.Number)
        {
            // A record from before updates existed: its first revision is what ran until now.
            record.Revisions.Add(new RevisionRecord
            {
                Number = revision.Number - 1,
                Spec = record.Spec,
                CreatedAt = record.CreatedAt,
                Result = revision.Result == RevisionResult.Failed ? RevisionResult.Running : RevisionResult.Replaced,
            });
        }
        record.Revisions.Add(revision);
        int keep = Math.Max(1, _options.RevisionHistory);
        if (record.Revisions.Count > keep)
            record.Revisions.RemoveRange(0, record.Revisions.Count - keep);
    }

    /// <summary>
    /// A container leaves: it may finish the connections it still serves (up to <see cref="RuntimeOptions.UpdateDrainTimeout"/>),
    /// is stopped with the usual grace, its log is kept for <c>logs --previous</c>, and it is removed. Never throws:
    /// a container that cannot be removed is left to reconcile as an orphan.
    /// </summary>
    private async Task RetireAsync(string deploymentId, string containerId, DeploymentSpec spec, bool drain)
    {
        try
        {
            if (drain)
                await DrainAsync(containerId, spec).ConfigureAwait(false);
            await StopQuietlyAsync(containerId, spec.Name).ConfigureAwait(false);
            try
            {
                await _previousLogs.SaveAsync(deploymentId, _engine.ReadLogsAsync(containerId, new LogOptions(), CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or RuntimeException)
            {
                _logger.LogWarning(ex, "Could not keep the log of {Container} ({Name})", containerId, spec.Name);
            }
            await _engine.RemoveContainerAsync(containerId, removeVolumes: true, $"removing the replaced container of {spec.Name}", CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code != RuntimeErrorCode.NotFound)
        {
            _logger.LogWarning(ex, "Could not retire container {Container} of {Name}; reconcile removes it as an orphan", containerId, spec.Name);
        }
        catch (RuntimeException)
        {
        }
    }

    /// <summary>Waits until the container holds no connection on its port (the route no longer sends it new ones), or the drain timeout.</summary>
    private async Task DrainAsync(string containerId, DeploymentSpec spec)
    {
        var deadline = _time.GetUtcNow() + _options.UpdateDrainTimeout;
        while (_time.GetUtcNow() < deadline)
        {
            var facts = await _engine.InspectContainerAsync(containerId, $"inspecting the replaced container of {spec.Name}", CancellationToken.None).ConfigureAwait(false);
            if (facts is not { Running: true, Pid: { } pid } || ListeningPorts.CountConnections(pid, spec.ContainerPort) is not > 0)
                return;
            await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
        }
        _logger.LogInformation("The replaced container {Container} of {Name} still had connections after {Drain}; stopping it", containerId, spec.Name, _options.UpdateDrainTimeout);
    }

    private async Task StopQuietlyAsync(string containerId, string name)
    {
        try
        {
            await _engine.StopContainerAsync(containerId, _options.StopTimeout, $"stopping the previous container of {name}", CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
        }
    }

    /// <summary>A recreate whose new container failed: the old one (only stopped) serves again.</summary>
    private async Task RestartOldAsync(DeploymentRecord record, string containerId)
    {
        try
        {
            await _engine.StartContainerAsync(containerId, $"starting the previous container of {record.Spec.Name} again", CancellationToken.None).ConfigureAwait(false);
            var status = await StatusCoreAsync(record, includeUsage: false, CancellationToken.None).ConfigureAwait(false);
            Routes.Set(record.Spec.Name, StatusProjection.UpstreamOf(status), DeploymentAccess.For(record), record.Spec.Domains);
        }
        catch (RuntimeException ex)
        {
            _logger.LogWarning(ex, "Could not start the previous container of {Name} again", record.Spec.Name);
        }
    }

    private sealed class UpdateFailedException(string reason, IReadOnlyList<ContainerLogLine> lines)
        : Exception(lines.Count == 0 ? $"{reason}; the previous version keeps serving. The new container wrote nothing."
            : $"{reason}; the previous version keeps serving. The new container's last lines:\n" + string.Join('\n', lines.Select(l => "  " + l.Text)))
    {
        public string Reason => reason;
    }
}

/// <summary>How an update replaces the running container.</summary>
public enum UpdateStrategy
{
    /// <summary>The new container starts beside the old one; the route moves once it is ready; then the old one stops. Needs room for both.</summary>
    Rolling,
    /// <summary>The old container stops first (no overlap: for a single writer); the deployment is down until the new one runs.</summary>
    Recreate,
}

/// <summary>How to update: the strategy, and the readiness the new container must reach before it takes the route (null: running is enough).</summary>
public sealed record UpdateOptions(UpdateStrategy Strategy = UpdateStrategy.Rolling, ReadinessOptions? Readiness = null);

/// <summary>The deployment after an update (same id and name), and the revision it runs now.</summary>
public sealed record UpdateResult(DeploymentStatus Status, int Revision);

/// <summary>One revision in a deployment's history.</summary>
public sealed record DeploymentRevision(int Number, string Image, string? ImageDigest, DateTimeOffset CreatedAt, RevisionResult Result, string? Reason, int? RollbackOf);

using PeerCompute.Runtime.Deployments;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Reconcile;

/// <summary>
/// Compares the records with what the engine runs: a container matching a record is adopted (an interrupted deploy
/// is finished), a record whose container is gone is marked vanished, and a labelled container without a record is
/// an orphan, removed only once it has been one for the grace period. A container whose record was set aside as
/// unreadable is not an orphan: it is adopted under a record rebuilt from its labels (which carry the owner), or,
/// when they do not suffice, kept and reported until the provider operator removes it. Routes follow what it finds.
/// </summary>
internal sealed class Reconciler
{
    private readonly RuntimeOptions _options;
    private readonly IContainerEngine _engine;
    private readonly DeploymentStore _store;
    private readonly AdmissionController _admission;
    private readonly RouteTable _routes;
    private readonly ConcurrentDictionary<string, TrackedDeployment> _deployments;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _claimLock;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _orphansFirstSeen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _unreadableReported = new(StringComparer.Ordinal);

    /// <param name="claimLock">Held while a deployment name is checked and claimed (the deploy path holds it too).</param>
    public Reconciler(RuntimeOptions options, IContainerEngine engine, DeploymentStore store, AdmissionController admission,
        RouteTable routes, ConcurrentDictionary<string, TrackedDeployment> deployments, Lock claimLock, TimeProvider time, ILogger logger)
    {
        _claimLock = claimLock;
        _options = options;
        _engine = engine;
        _store = store;
        _admission = admission;
        _routes = routes;
        _deployments = deployments;
        _time = time;
        _logger = logger;
    }

    /// <summary>One pass. Never stops or removes anything unless <paramref name="removeOrphans"/>, and then only orphans past their grace.</summary>
    public async Task<ReconcileReport> RunAsync(bool removeOrphans, List<string> problems, CancellationToken cancellationToken)
    {
        var containers = await _engine.ListContainersAsync(_options.Instance, cancellationToken).ConfigureAwait(false);

        var byDeployment = new Dictionary<string, ContainerSummary>(StringComparer.Ordinal);
        var orphans = new List<ContainerSummary>();
        foreach (var container in containers)
        {
            string? id = container.Label(ContainerNaming.DeploymentId);
            if (id is not null
                && _deployments.TryGetValue(id, out var tracked)
                && container.Label(ContainerNaming.Owner) == tracked.Record.Owner
                && container.Label(ContainerNaming.SpecHash) == tracked.Record.SpecHash
                && !byDeployment.ContainsKey(id))
            {
                byDeployment[id] = container;
            }
            else if (id is not null && _deployments.TryGetValue(id, out tracked) && tracked.Record.ContainerId == container.Id
                && container.Label(ContainerNaming.Owner) == tracked.Record.Owner && container.Label(ContainerNaming.SpecHash) == tracked.Record.SpecHash)
            {
                // Two containers of one spec (an update to the same spec): the record's own is the one, never its sibling.
                orphans.Add(byDeployment[id]);
                byDeployment[id] = container;
            }
            else if (id is not null && _deployments.TryGetValue(id, out tracked) && tracked.Record.NextContainerId == container.Id && tracked.Gate.CurrentCount == 0)
            {
                // An update's new container while the update runs: neither adopted nor an orphan. Once no update runs
                // (the provider stopped during one), it is an orphan like any other.
            }
            else
            {
                orphans.Add(container);
            }
        }

        var adopted = new List<string>();
        var vanished = new List<string>();
        foreach (var tracked in _deployments.Values)
        {
            // A deployment being changed right now (a deploy in flight) is not judged half-way.
            if (!await tracked.Gate.WaitAsync(0, CancellationToken.None).ConfigureAwait(false))
                continue;
            try
            {
                var record = tracked.Record;
                if (record.NextContainerId is not null)
                {
                    // An update interrupted by a provider stop: the old container is still the deployment's.
                    record.NextContainerId = null;
                    await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                }
                byDeployment.TryGetValue(record.Id, out var container);
                if (container is not null)
                {
                    if (await AdoptAsync(record, container, cancellationToken).ConfigureAwait(false))
                        adopted.Add(record.Id);
                }
                else if (record.Phase is RecordPhase.Admitted or RecordPhase.Active)
                {
                    record.Reason = record.Phase == RecordPhase.Admitted
                        ? "the deploy was interrupted before its container was created"
                        : StatusProjection.DisappearedReason;
                    record.Phase = RecordPhase.Vanished;
                    record.UpdatedAt = _time.GetUtcNow();
                    await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                    _admission.Release(record.Id);
                    vanished.Add(record.Id);
                    _logger.LogWarning("Deployment {Id}: {Reason}", record.Id, record.Reason);
                }
                _routes.Set(record.Spec.Name, StatusProjection.UpstreamOf(record, container), DeploymentAccess.For(record), record.Spec.Domains);
            }
            finally
            {
                tracked.Gate.Release();
            }
        }

        var (recovered, unreadable) = await RecoverSetAsideAsync(orphans, problems).ConfigureAwait(false);
        var (orphanIds, removed) = await CollectOrphansAsync(orphans, removeOrphans, cancellationToken).ConfigureAwait(false);
        return new ReconcileReport(adopted, vanished, orphanIds, removed, problems) { Recovered = recovered, Unreadable = unreadable };
    }

    /// <summary>
    /// Takes the containers of set-aside records out of <paramref name="orphans"/>: each is adopted under a record
    /// rebuilt from its labels, or kept as it is and named in <paramref name="problems"/>.
    /// </summary>
    private async Task<(List<string> Recovered, List<string> Unreadable)> RecoverSetAsideAsync(List<ContainerSummary> orphans, List<string> problems)
    {
        var recovered = new List<string>();
        var unreadable = new List<string>();
        foreach (var container in orphans.ToList())
        {
            string? id = container.Label(ContainerNaming.DeploymentId);
            // A second container of a deployment that has a record again is an orphan like any other.
            if (id is null || _deployments.ContainsKey(id) || _store.SetAsideFileOf(id) is not { } aside)
                continue;
            orphans.Remove(container);
            var record = LabelRecord.Rebuild(container, _time.GetUtcNow(), out string? missing);
            string? refusal = missing is null ? null : $"its labels do not say {missing}";
            if (refusal is null)
            {
                record!.Reason = $"record rebuilt from the container's labels: the record file was unreadable (kept as {aside})";
                var tracked = new TrackedDeployment(record);
                lock (_claimLock)
                {
                    if (_deployments.Values.Any(t => t.Record.Spec.Name == record.Spec.Name))
                        refusal = $"its name {record.Spec.Name} is held by another deployment";
                    else
                    {
                        _admission.Restore(record.Id, record.Spec.CpuMillicores, record.Spec.MemoryBytes);
                        _deployments[record.Id] = tracked;
                    }
                }
                if (refusal is null)
                {
                    await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                    _routes.Set(record.Spec.Name, StatusProjection.UpstreamOf(record, container), DeploymentAccess.For(record), record.Spec.Domains);
                    recovered.Add(record.Id);
                    _logger.LogWarning("Deployment {Id} ({Name}) of {Owner}: {Reason}; its container {Container} is adopted again",
                        record.Id, record.Spec.Name, record.Owner, record.Reason, container.Id);
                    continue;
                }
            }
            unreadable.Add(container.Id);
            string kept = $"container {container.Id} (deployment {id}, owner {container.Label(ContainerNaming.Owner) ?? "unknown"}) is kept: its record is unreadable ({aside}) and {refusal}; "
                + "it is never removed automatically: remove it with 'docker rm -f' once you have checked it";
            problems.Add(kept);
            // Once per container and reason, not every reconcile.
            if (_unreadableReported.TryGetValue(container.Id, out string? before) && before == kept)
                continue;
            _unreadableReported[container.Id] = kept;
            _logger.LogWarning("Unreadable record: {Problem}", kept);
        }
        return (recovered, unreadable);
    }

    private async Task<(List<string> Orphans, List<string> Removed)> CollectOrphansAsync(List<ContainerSummary> orphans, bool removeOrphans, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var orphanIds = new List<string>();
        var removed = new List<string>();
        foreach (var orphan in orphans)
        {
            var firstSeen = _orphansFirstSeen.GetOrAdd(orphan.Id, now);
            var createdAt = orphan.CreatedAt ?? now;
            if (removeOrphans && now - firstSeen >= _options.OrphanGracePeriod && now - createdAt >= _options.OrphanGracePeriod)
            {
                try
                {
                    await _engine.RemoveContainerAsync(orphan.Id, removeVolumes: true, "removing an orphaned container", cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                }
                _orphansFirstSeen.TryRemove(orphan.Id, out _);
                removed.Add(orphan.Id);
                _logger.LogWarning("Removed orphaned container {Container} (labelled deployment {Id}, no record)", orphan.Id, orphan.Label(ContainerNaming.DeploymentId));
            }
            else
            {
                orphanIds.Add(orphan.Id);
            }
        }
        // Forget orphans that went away by themselves.
        foreach (string seen in _orphansFirstSeen.Keys)
        {
            if (!orphans.Any(o => o.Id == seen))
                _orphansFirstSeen.TryRemove(seen, out _);
        }
        return (orphanIds, removed);
    }

    /// <summary>Binds a record to its container; completes a deploy that was interrupted between create and start.</summary>
    private async Task<bool> AdoptAsync(DeploymentRecord record, ContainerSummary container, CancellationToken cancellationToken)
    {
        bool changed = record.ContainerId != container.Id;
        record.ContainerId = container.Id;
        switch (record.Phase)
        {
            case RecordPhase.Admitted:
                if (container.State == ContainerState.Created)
                    await _engine.StartContainerAsync(container.Id, $"starting the container for {record.Spec.Name}", cancellationToken).ConfigureAwait(false);
                record.Phase = RecordPhase.Active;
                record.Reason = null;
                changed = true;
                break;
            case RecordPhase.Vanished:
                // The container is back (the engine was restored): it holds capacity again.
                _admission.Restore(record.Id, record.Spec.CpuMillicores, record.Spec.MemoryBytes);
                record.Phase = RecordPhase.Active;
                record.Reason = null;
                changed = true;
                break;
        }
        if (changed)
        {
            record.UpdatedAt = _time.GetUtcNow();
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
        }
        return true;
    }
}

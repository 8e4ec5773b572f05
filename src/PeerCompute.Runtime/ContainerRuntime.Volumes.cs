using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Volumes;

namespace PeerCompute.Runtime;

// Named volumes: created on a deployment's first use, counted against max-storage from then until removed, mounted on
// the host for as long as they exist (so updates, restarts of the provider and stops keep them), removed only by their owner.
public sealed partial class ContainerRuntime
{
    private readonly ConcurrentDictionary<string, VolumeEntry> _volumes = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _volumeGate = new(1, 1);

    /// <summary>Why this provider cannot make volumes (no loop devices); null when it can.</summary>
    public string? VolumesProblem => _loopVolumes.Problem;

    public Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        IReadOnlyList<VolumeInfo> list = [.. _volumes.Values
            .Where(e => e.Record.Owner == owner && e.Ready.IsCompletedSuccessfully && !e.Removing)
            .OrderBy(e => e.Record.Name, StringComparer.Ordinal)
            .Select(e => new VolumeInfo(e.Record.Name, e.Record.SizeBytes, _loopVolumes.UsedBytes(e.Record.Key), UsersOf(owner, e.Record.Name), e.Record.CreatedAt))];
        return Task.FromResult(list);
    }

    public async Task RemoveVolumeAsync(string owner, string name, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        VolumeEntry? entry;
        lock (_claimLock)
        {
            // Another owner's volume of that name is a different key: it is simply not there for this owner.
            if (name is null || !_volumes.TryGetValue(VolumeRecord.KeyFor(owner, name), out entry) || entry.Removing)
                throw new RuntimeException(RuntimeErrorCode.NotFound, $"no volume '{name}'");
            if (!entry.Ready.IsCompleted)
                throw new RuntimeException(RuntimeErrorCode.VolumeInUse, $"volume {name} is being created by a deploy; try again when it is done");
            var users = UsersOf(owner, name);
            if (users.Count > 0)
                throw new RuntimeException(RuntimeErrorCode.VolumeInUse, $"volume {name} is in use by {string.Join(", ", users)}; stop {(users.Count == 1 ? "that deployment" : "those deployments")} first");
            entry.Removing = true;
        }
        await RemoveVolumeCoreAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the volume records once; their storage counts at once, whether or not they can be mounted.</summary>
    private async Task LoadVolumesAsync(List<string> problems, CancellationToken cancellationToken)
    {
        foreach (var record in await _loopVolumes.LoadAllAsync(problems, cancellationToken).ConfigureAwait(false))
        {
            _volumes[record.Key] = new VolumeEntry(record);
            _admission.RestoreVolume(record.Key, record.SizeBytes);
        }
    }

    /// <summary>
    /// Mounts every volume that is not (after a reboot): its deployments' containers, which the engine could not start
    /// without their volumes, are started once it is.
    /// </summary>
    private async Task MountVolumesAsync(List<string> problems, CancellationToken cancellationToken)
    {
        if (_volumes.IsEmpty)
            return;
        if (_loopVolumes.Problem is { } problem)
        {
            problems.Add(problem);
            return;
        }
        var remounted = new List<string>();
        await _volumeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var entry in _volumes.Values)
            {
                try
                {
                    if (await _loopVolumes.EnsureMountedAsync(entry.Record, cancellationToken).ConfigureAwait(false))
                        remounted.Add(entry.Record.Key);
                }
                catch (RuntimeException ex)
                {
                    problems.Add(ex.Message);
                }
            }
        }
        finally
        {
            _volumeGate.Release();
        }
        foreach (var tracked in _deployments.Values)
        {
            var record = tracked.Record;
            if (record.Phase != RecordPhase.Active || record.ContainerId is not { } containerId
                || record.Spec.VolumeMounts?.Any(v => remounted.Contains(VolumeRecord.KeyFor(record.Owner, v.Name))) != true)
                continue;
            try
            {
                await _engine.StartContainerAsync(containerId, $"starting {record.Spec.Name} now that its volumes are mounted", cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex)
            {
                problems.Add(ex.Message);
            }
        }
    }

    /// <summary>
    /// Under the claim lock, with the deployment's admission: which of its volumes exist, and the storage of those it
    /// creates. Entries for new volumes are registered at once, so a concurrent deploy of the same volume waits for this
    /// one's creation instead of making it twice.
    /// </summary>
    private List<ClaimedVolume> ClaimVolumes(string id, DeploymentSpec spec, string owner) =>
        ClaimVolumes(spec, owner, created => _admission.Admit(id, spec.CpuMillicores, spec.MemoryBytes, created));

    /// <summary>
    /// The same for an update, whose CPU and memory are admitted already: the volumes of the new spec (existing ones as
    /// they are, new ones made), so the data a deployment keeps in them is there in its next revision.
    /// </summary>
    private List<ClaimedVolume> ClaimUpdateVolumes(DeploymentSpec spec, string owner)
    {
        lock (_claimLock)
            return ClaimVolumes(spec, owner, created => _admission.AdmitVolumes(created));
    }

    private List<ClaimedVolume> ClaimVolumes(DeploymentSpec spec, string owner, Action<List<(string Key, long Bytes)>> admit)
    {
        var claimed = new List<ClaimedVolume>();
        if (spec.VolumeMounts is not { Count: > 0 } mounts)
        {
            admit([]);
            return claimed;
        }
        var created = new List<(string Key, long Bytes)>();
        foreach (var mount in mounts)
        {
            string key = VolumeRecord.KeyFor(owner, mount.Name);
            if (_volumes.TryGetValue(key, out var entry))
            {
                if (entry.Removing)
                    throw new RuntimeException(RuntimeErrorCode.VolumeInUse, $"volume {mount.Name} is being removed; deploy again once it is gone");
                if (mount.SizeBytes is { } size && size != entry.Record.SizeBytes)
                    throw new RuntimeException(RuntimeErrorCode.InvalidSpec,
                        $"volume: {mount.Name} exists with size {DeploymentSpecValidator.Bytes(entry.Record.SizeBytes)}, not {DeploymentSpecValidator.Bytes(size)}; a volume keeps its size (leave the size out, or remove the volume first)");
                claimed.Add(new ClaimedVolume(mount, entry, Created: false));
            }
            else
            {
                var record = new VolumeRecord { Key = key, Owner = owner, Name = mount.Name, SizeBytes = mount.SizeBytes ?? _options.DefaultVolumeBytes, CreatedAt = _time.GetUtcNow() };
                created.Add((key, record.SizeBytes));
                claimed.Add(new ClaimedVolume(mount, new VolumeEntry(record, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)), Created: true));
            }
        }
        admit(created);
        foreach (var volume in claimed.Where(v => v.Created))
            _volumes[volume.Entry.Record.Key] = volume.Entry;
        return claimed;
    }

    /// <summary>Creates the new volumes, makes sure the others are mounted, and says where each goes.</summary>
    private async Task<IReadOnlyList<VolumeBind>> PrepareVolumesAsync(List<ClaimedVolume> claimed, CancellationToken cancellationToken)
    {
        if (claimed.Count == 0)
            return [];
        if (_loopVolumes.Problem is { } problem)
            throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, problem);
        var binds = new List<VolumeBind>();
        foreach (var volume in claimed)
        {
            var record = volume.Entry.Record;
            if (volume.Created)
            {
                await _volumeGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    await _loopVolumes.CreateAsync(record, CancellationToken.None).ConfigureAwait(false);
                    volume.Entry.Creation!.SetResult();
                }
                catch (Exception ex)
                {
                    lock (_claimLock)
                        _volumes.TryRemove(record.Key, out _);
                    _admission.ReleaseVolume(record.Key);
                    volume.Entry.Creation!.SetException(ex);
                    throw;
                }
                finally
                {
                    _volumeGate.Release();
                }
            }
            else
            {
                // A concurrent deploy's creation of it (that one's failure is this one's too).
                await volume.Entry.Ready.ConfigureAwait(false);
                await _volumeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await _loopVolumes.EnsureMountedAsync(record, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _volumeGate.Release();
                }
            }
            binds.Add(new VolumeBind(_loopVolumes.DataOf(record.Key), volume.Mount.Path));
        }
        return binds;
    }

    /// <summary>After a failed deploy: the volumes it created go again, unless another deployment took them up meanwhile.</summary>
    private async Task DropCreatedVolumesAsync(List<ClaimedVolume> claimed)
    {
        foreach (var volume in claimed.Where(v => v.Created && v.Entry.Ready.IsCompletedSuccessfully))
        {
            lock (_claimLock)
            {
                if (volume.Entry.Removing || UsersOf(volume.Entry.Record.Owner, volume.Entry.Record.Name).Count > 0)
                    continue;
                volume.Entry.Removing = true;
            }
            try
            {
                await RemoveVolumeCoreAsync(volume.Entry, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RuntimeException ex)
            {
                _logger.LogWarning(ex, "Could not remove volume {Name} that a failed deploy created", volume.Entry.Record.Name);
            }
        }
    }

    private async Task RemoveVolumeCoreAsync(VolumeEntry entry, CancellationToken cancellationToken)
    {
        await _volumeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _loopVolumes.RemoveAsync(entry.Record.Key, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            entry.Removing = false;
            throw;
        }
        finally
        {
            _volumeGate.Release();
        }
        lock (_claimLock)
            _volumes.TryRemove(entry.Record.Key, out _);
        _admission.ReleaseVolume(entry.Record.Key);
    }

    /// <summary>Names of the owner's deployments that hold the volume now (admitted or running).</summary>
    private List<string> UsersOf(string owner, string name)
        => [.. _deployments.Values
            .Where(t => t.Record.Owner == owner && t.Record.HoldsCapacity && t.Record.Spec.VolumeMounts?.Any(v => v.Name == name) == true)
            .Select(t => t.Record.Spec.Name)
            .Order(StringComparer.Ordinal)];

    private sealed class VolumeEntry(VolumeRecord record, TaskCompletionSource? creation = null)
    {
        public VolumeRecord Record { get; } = record;
        /// <summary>Set while the deploy that creates the volume makes it; null for a volume that exists.</summary>
        public TaskCompletionSource? Creation { get; } = creation;
        public Task Ready => Creation?.Task ?? Task.CompletedTask;
        /// <summary>Being removed: neither listed nor mountable. Read and written under the claim lock.</summary>
        public bool Removing { get; set; }
    }

    private sealed record ClaimedVolume(VolumeMount Mount, VolumeEntry Entry, bool Created);
}

using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Resources;
using PeerCompute.Core.Storage;
using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Docker;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Health;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Network;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Reconcile;
using PeerCompute.Runtime.Restarts;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Volumes;

namespace PeerCompute.Runtime;

/// <summary>
/// The provider's container runtime: admits deployments within the provider's caps, runs each in a
/// tightly confined container, and keeps a record of every deployment on disk so that a restarted
/// provider adopts what still runs instead of tearing it down.
/// </summary>
/// <remarks>
/// This class is the lifecycle; <see cref="Reconciler"/> adopts and collects orphans, <see cref="StatusProjection"/>
/// says what a deployment is doing, and an <see cref="IContainerEngine"/> (Docker unless told otherwise) runs the
/// containers. Disposing releases the engine connection and the state lock; containers keep running.
/// </remarks>
public sealed partial class ContainerRuntime : IDeploymentRuntime
{
    private readonly RuntimeOptions _options;
    private readonly IContainerEngine _engine;
    private readonly DeploymentStore _store;
    private readonly AdmissionController _admission;
    private readonly EgressGate _egress;
    private readonly ImageGrantStore _imageGrants;
    private readonly ImageAccess _images;
    private readonly PreviousLogStore _previousLogs;
    private readonly Reconciler _reconciler;
    private readonly HealthMonitor _health;
    private readonly RestartSupervisor _restarts;
    private readonly LoopVolumes _loopVolumes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TrackedDeployment> _deployments = new(StringComparer.Ordinal);
    private readonly Lock _claimLock = new();
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private FileLock? _stateLock;
    private bool _recordsLoaded;
    private EngineStorage? _storage;
    private volatile bool _started;
    private volatile bool _disposed;

    /// <summary>A runtime over the Docker engine at <see cref="RuntimeOptions.DockerEndpoint"/>.</summary>
    public ContainerRuntime(RuntimeOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
        : this(options ?? new RuntimeOptions(), engine: null, logger, timeProvider)
    {
    }

    /// <summary>A runtime over the given engine (null: Docker); the runtime owns and disposes it.</summary>
    internal ContainerRuntime(RuntimeOptions options, IContainerEngine? engine, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options;
        if (_options.NetworkName.Length is 0 or > 15)
            throw new ArgumentException("NetworkName must be 1-15 characters (it also names the Linux bridge).", nameof(options));
        if (_options.MaxWritableBytes <= 0 || _options.MaxImageBytes <= 0)
            throw new ArgumentException("MaxWritableBytes and MaxImageBytes must be positive.", nameof(options));
        _logger = logger ?? NullLogger.Instance;
        _engine = engine ?? new DockerEngine(_options.ResolveDockerEndpoint(), _logger);
        _store = new DeploymentStore(_options.ResolveStateFolder());
        _admission = new AdmissionController(_options);
        _time = timeProvider ?? TimeProvider.System;
        _imageGrants = new ImageGrantStore(_store.StateFolder);
        _images = new ImageAccess(_engine, new RegistryGuard(_options.AllowedRegistries, _logger), _imageGrants);
        _egress = new EgressGate(_options, _logger);
        _loopVolumes = new LoopVolumes(_options.ResolveVolumesFolder(), _options.LoopControlPath);
        _previousLogs = new PreviousLogStore(_store.StateFolder, _options.PreviousLogsBytes);
        _reconciler = new Reconciler(_options, _engine, _store, _admission, Routes, _deployments, _claimLock, _time, _logger);
        if (_options.RestartBackoffInitial <= TimeSpan.Zero || _options.RestartBackoffMax < _options.RestartBackoffInitial)
            throw new ArgumentException("RestartBackoffInitial must be positive and RestartBackoffMax at least as long.", nameof(options));
        _health = new HealthMonitor(_engine, _deployments, _time, _logger);
        _restarts = new RestartSupervisor(_options, _engine, _store, _deployments, Routes, _time, _logger);
    }

    /// <summary>The egress firewall this runtime keeps installed; null when it manages none (no options, or open egress).</summary>
    public EgressFirewall? Firewall => _egress.Firewall;

    public string? EgressProblem => _egress.Problem;

    /// <summary>What the engine's storage can do (writable-layer caps, user namespaces), found at start; null before.</summary>
    public EngineStorage? Storage => _storage;

    public RouteTable Routes { get; } = new();

    public RuntimeOptions Options => _options;

    /// <summary>The engine endpoint in use.</summary>
    public Uri Endpoint => _engine.Endpoint;

    public async Task<ReconcileReport> StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var problems = new List<string>();
            if (_stateLock is null)
            {
                _store.EnsureFolders();
                try
                {
                    _stateLock = await FileLock.AcquireAsync(_store.LockFile, _options.StateLockTimeout, cancellationToken).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    throw new RuntimeException(RuntimeErrorCode.StateLocked, $"the provider state in {_store.StateFolder} is in use by another runtime: {ex.Message}", ex);
                }
            }
            if (!_recordsLoaded)
            {
                await _imageGrants.LoadAsync(problems, cancellationToken).ConfigureAwait(false);
                foreach (var record in await _store.LoadAllAsync(problems, cancellationToken).ConfigureAwait(false))
                {
                    _deployments[record.Id] = new TrackedDeployment(record);
                    if (record.Spec.App is { } app)
                        _egress.TrackApp(AppNetwork.NameFor(_options.Instance, record.Owner, app));
                    if (record.HoldsCapacity)
                        _admission.Restore(record.Id, record.Spec.CpuMillicores, record.Spec.MemoryBytes);
                }
                await LoadVolumesAsync(problems, cancellationToken).ConfigureAwait(false);
                _recordsLoaded = true;
            }
            await BridgeNetwork.EnsureAsync(_engine, _options.NetworkName, cancellationToken).ConfigureAwait(false);
            _storage ??= await _engine.ProbeStorageAsync(_options.MaxWritableBytes, cancellationToken).ConfigureAwait(false);
            // A failure does not stop the start (owners can still stop and read what runs); deploys are refused until it is fixed.
            if (await _egress.RefreshAsync(cancellationToken).ConfigureAwait(false) is { } egressProblem)
                problems.Add(egressProblem);
            var report = await _reconciler.RunAsync(removeOrphans: false, problems, cancellationToken).ConfigureAwait(false);
            // Volumes first: the restart supervisor may start a held container, which needs its volumes mounted.
            await MountVolumesAsync(problems, cancellationToken).ConfigureAwait(false);
            _health.Start();
            _restarts.Start();
            _started = true;
            return report;
        }
        finally
        {
            _startGate.Release();
        }
    }

    public async Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var problems = new List<string>();
        // An engine restart may have re-created DOCKER-USER; a resolver change (DHCP) moves the DNS exception.
        if (await _egress.RefreshAsync(cancellationToken).ConfigureAwait(false) is { } egressProblem)
            problems.Add(egressProblem);
        return await _reconciler.RunAsync(removeOrphans: true, problems, cancellationToken).ConfigureAwait(false);
    }

    public async Task<DeploymentStatus> DeployAsync(DeploymentSpec spec, string owner, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        ImageReference image = DeploymentSpecValidator.Validate(spec, _options);
        long? writableCap = WritableLayerCap(spec);
        if (spec.VolumeMounts is { Count: > 0 } && _loopVolumes.Problem is { } volumesProblem)
            throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, volumesProblem);

        string id = ContainerNaming.NewDeploymentId();
        var now = _time.GetUtcNow();
        var record = new DeploymentRecord
        {
            Id = id,
            Owner = owner,
            Spec = spec,
            SpecHash = SpecHash.Compute(spec),
            CreatedAt = now,
            UpdatedAt = now,
            Phase = RecordPhase.Admitted,
        };
        var tracked = new TrackedDeployment(record);
        tracked.Gate.Wait(0);
        List<ClaimedVolume> volumes;
        // The name is the deployment's public hostname label, so it is unique on the provider across owners;
        // checked and claimed at once so two concurrent deploys of one name cannot both pass.
        lock (_claimLock)
        {
            if (_deployments.Values.FirstOrDefault(t => t.Record.Spec.Name == spec.Name) is { } holder)
                throw new RuntimeException(RuntimeErrorCode.NameTaken, holder.Record.Owner == owner
                    ? $"You already have a deployment named '{spec.Name}' on this provider ({holder.Record.Id}); update it (UpdateAsync) or choose another --name."
                    : $"The name '{spec.Name}' is taken on this provider by another user's deployment; choose another --name.");
            volumes = ClaimVolumes(id, spec, owner);
            _deployments[id] = tracked;
        }
        string? containerId = null;
        // The steps before the start run side by side (a deploy's latency is their sum otherwise): the firewall check
        // (iptables, in both families), the record written to disk, the image looked up; the container is created
        // meanwhile but starts only once all three are done, so nothing runs unfiltered or unrecorded.
        var egress = _egress.EnsureDeployAllowedAsync(cancellationToken);
        // Written before the container exists: a crash from here on is found again by reconcile.
        var admitted = _store.SaveAsync(record, cancellationToken);
        var volumesReady = PrepareVolumesAsync(volumes, cancellationToken);
        try
        {
            var ensured = await _images.EnsureAsync(image, owner, spec.RegistryCredentials, progress, cancellationToken).ConfigureAwait(false);
            var facts = await _engine.InspectImageAsync(ensured.Id, cancellationToken).ConfigureAwait(false);
            await EnsureImageFitsAsync(image, facts, removeWhenTooLarge: ensured.Pulled).ConfigureAwait(false);
            await admitted.ConfigureAwait(false);
            if (spec.ContainerPort == DeploymentSpec.PortFromImage)
            {
                spec = spec with { ContainerPort = PortOf(image, facts) };
                record.Spec = spec;
                record.SpecHash = SpecHash.Compute(spec);
            }

            if (spec.App is { } app)
                await EnsureAppNetworkAsync(owner, app, cancellationToken).ConfigureAwait(false);
            var binds = await volumesReady.ConfigureAwait(false);
            containerId = await _engine.CreateContainerAsync(ContainerDefinition.For(record, image, _options, writableCap, binds), $"creating the container for {spec.Name}", cancellationToken).ConfigureAwait(false);
            record.ContainerId = containerId;
            await egress.ConfigureAwait(false);
            await _engine.StartContainerAsync(containerId, $"starting the container for {spec.Name}", cancellationToken).ConfigureAwait(false);

            record.Phase = RecordPhase.Active;
            record.UpdatedAt = _time.GetUtcNow();
            record.Revisions.Add(new RevisionRecord { Number = record.Revision, Spec = spec, ImageDigest = ensured.Id, CreatedAt = record.UpdatedAt, Result = RevisionResult.Running });
            var active = _store.SaveAsync(record, cancellationToken);
            var status = await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
            await active.ConfigureAwait(false);
            _logger.LogInformation("Deployed {Id} ({Name}, {Image}) for {Owner} as container {Container}", id, spec.Name, spec.Image, owner, containerId);
            Routes.Set(spec.Name, StatusProjection.UpstreamOf(status), DeploymentAccess.For(record), record.Spec.Domains);
            return status;
        }
        catch (Exception ex)
        {
            // Whatever failed first, the steps still running are waited for: their failures are this one's consequences.
            await Task.WhenAll(egress, admitted, volumesReady).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            await UndoDeployAsync(record, containerId).ConfigureAwait(false);
            await DropCreatedVolumesAsync(volumes).ConfigureAwait(false);
            if (ex is RuntimeException or OperationCanceledException)
                throw;
            throw new RuntimeException(RuntimeErrorCode.DockerError, $"deploying {spec.Name}: {ex.Message}", ex);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    public async Task<DeploymentStatus> GetStatusAsync(string id, string owner, bool includeUsage = true, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        return await StatusCoreAsync(tracked.Record, includeUsage, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DeploymentStatus>> ListAsync(string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        var result = new List<DeploymentStatus>();
        foreach (var tracked in _deployments.Values.Where(t => t.Record.Owner == owner).OrderBy(t => t.Record.CreatedAt))
            result.Add(await StatusCoreAsync(tracked.Record, includeUsage: false, cancellationToken).ConfigureAwait(false));
        return result;
    }

    public async Task<IReadOnlyList<DeploymentStatus>> ListAllAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var result = new List<DeploymentStatus>();
        foreach (var tracked in _deployments.Values.OrderBy(t => t.Record.CreatedAt))
            result.Add(await StatusCoreAsync(tracked.Record, includeUsage: false, cancellationToken).ConfigureAwait(false));
        return result;
    }

    public async IAsyncEnumerable<ContainerLogLine> StreamLogsAsync(string id, string owner, LogOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var record = Find(id, owner).Record;
        if (record.ContainerId is not { } containerId || record.Phase == RecordPhase.Vanished)
            throw new RuntimeException(RuntimeErrorCode.NotFound, $"deployment {id} has no container to read logs from");
        await foreach (var entry in _engine.ReadLogsAsync(containerId, options ?? new LogOptions(), cancellationToken).ConfigureAwait(false))
            yield return entry;
    }

    public CapacityReport GetCapacity()
        => _admission.Report(_deployments.Values.Count(t => t.Record.Phase == RecordPhase.Active));

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        _started = false;
        await _startGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _restarts.DisposeAsync().ConfigureAwait(false);
            await _health.DisposeAsync().ConfigureAwait(false);
            Routes.Complete();
            _engine.Dispose();
            _stateLock?.Dispose();
            _stateLock = null;
        }
        finally
        {
            _startGate.Release();
        }
    }

    private void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_started)
            throw new RuntimeException(RuntimeErrorCode.NotStarted, "the container runtime has not started (StartAsync has not completed)");
    }

    /// <summary>
    /// The writable layer's cap for this deployment: the provider's whenever the engine enforces one (a read-only root
    /// gets it too). A writable root on an engine that cannot cap it runs only where the operator allowed that.
    /// </summary>
    private long? WritableLayerCap(DeploymentSpec spec)
    {
        var storage = _storage!;
        if (storage.CapsWritableLayer)
            return _options.MaxWritableBytes;
        if (!spec.ReadOnlyRootFilesystem && !_options.AllowUnboundedWritable)
            throw new RuntimeException(RuntimeErrorCode.WritableUnbounded,
                $"this provider cannot cap a writable root filesystem (storage driver {storage.Describe()}: {storage.CapProblem}), so it runs only read-only roots with a writable /tmp; deploy without --writable, or ask the provider to move Docker's data root to xfs with project quotas (or to allow unbounded writable roots)");
        return null;
    }

    private static void ValidateOwner(string owner)
    {
        if (string.IsNullOrWhiteSpace(owner) || owner.Length > 256 || owner.Any(char.IsControl))
            throw new RuntimeException(RuntimeErrorCode.InvalidSpec, "owner: a PeerId is required");
    }

    /// <summary>Another owner's deployment is reported exactly like a missing one.</summary>
    private TrackedDeployment Find(string id, string owner)
    {
        if (id is not null && owner is not null && _deployments.TryGetValue(id, out var tracked) && tracked.Record.Owner == owner)
            return tracked;
        throw new RuntimeException(RuntimeErrorCode.NotFound, $"no deployment {id}");
    }

    private async Task<DeploymentStatus> StatusCoreAsync(DeploymentRecord record, bool includeUsage, CancellationToken cancellationToken)
    {
        ContainerFacts? container = null;
        if (record.ContainerId is { } containerId && record.Phase != RecordPhase.Vanished)
            container = await _engine.InspectContainerAsync(containerId, $"inspecting {record.Spec.Name}", cancellationToken).ConfigureAwait(false);

        var status = StatusProjection.Project(record, container, _time.GetUtcNow(), _health.ReportFor(record));
        if (includeUsage && status.State == DeploymentState.Running)
            status = status with { Usage = await _engine.ReadUsageAsync(container!.Id, cancellationToken).ConfigureAwait(false) };
        if (StatusProjection.WantsLastLines(status, container) && _options.StatusLogLines > 0)
            status = status with { LastLogLines = await TryTailAsync(container!.Id, cancellationToken).ConfigureAwait(false) };
        return status;
    }

    private async Task<IReadOnlyList<ContainerLogLine>> TryTailAsync(string containerId, CancellationToken cancellationToken)
    {
        var lines = new List<ContainerLogLine>();
        try
        {
            await foreach (var entry in _engine.ReadLogsAsync(containerId, new LogOptions { Tail = _options.StatusLogLines }, cancellationToken).ConfigureAwait(false))
                lines.Add(entry);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
        }
        return lines;
    }
}

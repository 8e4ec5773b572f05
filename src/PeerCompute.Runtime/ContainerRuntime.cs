using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Storage;
using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Docker;
using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime;

/// <summary>
/// The provider's container runtime: admits deployments within the provider's caps, runs each in a
/// tightly confined container, and keeps a record of every deployment on disk so that a restarted
/// provider adopts what still runs instead of tearing it down.
/// </summary>
/// <remarks>
/// Call <see cref="StartAsync"/> once before anything else (again after it failed, e.g. while the
/// engine was down). Disposing releases the engine connection and the state lock; containers keep running.
/// </remarks>
public sealed class ContainerRuntime : IAsyncDisposable
{
    private readonly RuntimeOptions _options;
    private readonly DockerClient _docker;
    private readonly DockerErrorTranslator _errors;
    private readonly DeploymentStore _store;
    private readonly AdmissionController _admission;
    private readonly ImagePuller _images;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EgressFirewall? _firewall;
    private readonly ConcurrentDictionary<string, Tracked> _deployments = new(StringComparer.Ordinal);
    private readonly Lock _claimLock = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _orphansFirstSeen = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private FileLock? _stateLock;
    private bool _recordsLoaded;
    private volatile bool _started;
    private volatile bool _disposed;

    public ContainerRuntime(RuntimeOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new RuntimeOptions();
        if (_options.NetworkName.Length is 0 or > 15)
            throw new ArgumentException("NetworkName must be 1-15 characters (it also names the Linux bridge).", nameof(options));
        Endpoint = _options.ResolveDockerEndpoint();
        _docker = new DockerClientBuilder().WithEndpoint(Endpoint).Build();
        _errors = new DockerErrorTranslator(Endpoint);
        _store = new DeploymentStore(_options.ResolveStateFolder());
        _admission = new AdmissionController(_options);
        _images = new ImagePuller(_docker, _errors);
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        if (_options.Egress is { Open: false } egress)
            _firewall = new EgressFirewall(_options.NetworkName, egress, _logger);
    }

    /// <summary>The egress firewall this runtime keeps installed; null when it manages none (no options, or open egress).</summary>
    public EgressFirewall? Firewall => _firewall;

    /// <summary>Why the egress firewall could not be installed the last time it was checked; null when it is in place (or not managed).</summary>
    public string? EgressProblem { get; private set; }

    public RuntimeOptions Options => _options;

    /// <summary>The Docker endpoint in use.</summary>
    public Uri Endpoint { get; }

    /// <summary>
    /// Takes the state folder's lock, loads the records, makes sure the project's network exists, and
    /// reconciles: containers matching a record are adopted, records whose container vanished are marked.
    /// Never stops or removes anything. Safe to call again after a failure (for instance while the engine was down).
    /// </summary>
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
                foreach (var record in await _store.LoadAllAsync(problems, cancellationToken).ConfigureAwait(false))
                {
                    _deployments[record.Id] = new Tracked(record);
                    if (record.HoldsCapacity)
                        _admission.Restore(record.Id, record.Spec.CpuMillicores, record.Spec.MemoryBytes);
                }
                _recordsLoaded = true;
            }
            await EnsureNetworkAsync(cancellationToken).ConfigureAwait(false);
            // A failure does not stop the start (owners can still stop and read what runs); deploys are refused until it is fixed.
            if (await TryEnsureEgressAsync(cancellationToken).ConfigureAwait(false) is { } egressProblem)
                problems.Add(egressProblem);
            var report = await ReconcileCoreAsync(removeOrphans: false, problems, cancellationToken).ConfigureAwait(false);
            _started = true;
            return report;
        }
        finally
        {
            _startGate.Release();
        }
    }

    /// <summary>
    /// The same pass as on start, plus removal of labelled containers that have no record and were first
    /// seen at least <see cref="RuntimeOptions.OrphanGracePeriod"/> ago. The daemon calls this periodically.
    /// </summary>
    public async Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var problems = new List<string>();
        // An engine restart may have re-created DOCKER-USER; a resolver change (DHCP) moves the DNS exception.
        if (await TryEnsureEgressAsync(cancellationToken).ConfigureAwait(false) is { } egressProblem)
            problems.Add(egressProblem);
        return await ReconcileCoreAsync(removeOrphans: true, problems, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Installs or repairs the egress rules; returns the reason when they cannot be (and remembers it for deploys).</summary>
    private async Task<string?> TryEnsureEgressAsync(CancellationToken cancellationToken)
    {
        if (_firewall is null)
            return null;
        string? before = EgressProblem;
        try
        {
            await _firewall.EnsureAsync(cancellationToken).ConfigureAwait(false);
            EgressProblem = null;
            if (before is not null)
                _logger.LogInformation("Egress firewall in place again: deploys are accepted");
            return null;
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable)
        {
            EgressProblem = ex.Message;
            // Once per change, not every reconcile.
            if (before != ex.Message)
                _logger.LogError("Deploys are refused: {Reason}", ex.Message);
            return ex.Message;
        }
    }

    /// <summary>
    /// Admits, records, pulls if needed, creates and starts a deployment. On any failure nothing is left
    /// behind: no container, no record, no reserved capacity.
    /// </summary>
    public async Task<DeploymentStatus> DeployAsync(DeploymentSpec spec, string owner, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        ImageReference image = DeploymentSpecValidator.Validate(spec, _options);
        // Fail closed: no container starts unless its egress rules are in place right now.
        if (_firewall is not null)
        {
            try
            {
                await _firewall.EnsureAsync(cancellationToken).ConfigureAwait(false);
                EgressProblem = null;
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable)
            {
                EgressProblem = ex.Message;
                throw new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"deploy refused: {ex.Message}", ex);
            }
        }

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
        var tracked = new Tracked(record);
        tracked.Gate.Wait(0);
        // The name is the deployment's public hostname label, so it is unique on the provider across owners;
        // checked and claimed at once so two concurrent deploys of one name cannot both pass.
        lock (_claimLock)
        {
            if (_deployments.Values.FirstOrDefault(t => t.Record.Spec.Name == spec.Name) is { } holder)
                throw new RuntimeException(RuntimeErrorCode.NameTaken, holder.Record.Owner == owner
                    ? $"You already have a deployment named '{spec.Name}' on this provider; stop it first or choose another --name."
                    : $"The name '{spec.Name}' is taken on this provider by another user's deployment; choose another --name.");
            _admission.Admit(id, spec.CpuMillicores, spec.MemoryBytes);
            _deployments[id] = tracked;
        }
        string? containerId = null;
        try
        {
            // Written before the container exists: a crash from here on is found again by reconcile.
            await _store.SaveAsync(record, cancellationToken).ConfigureAwait(false);
            await _images.EnsureAsync(image, spec.RegistryCredentials, progress, cancellationToken).ConfigureAwait(false);

            var parameters = ContainerSpecBuilder.Build(record, image, _options);
            var created = await _errors.RunAsync($"creating the container for {spec.Name}",
                () => _docker.Containers.CreateContainerAsync(parameters, cancellationToken), cancellationToken).ConfigureAwait(false);
            containerId = created.ID;
            record.ContainerId = containerId;
            await _errors.RunAsync($"starting the container for {spec.Name}",
                () => _docker.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken), cancellationToken).ConfigureAwait(false);

            record.Phase = RecordPhase.Active;
            record.UpdatedAt = _time.GetUtcNow();
            await _store.SaveAsync(record, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Deployed {Id} ({Name}, {Image}) for {Owner} as container {Container}", id, spec.Name, spec.Image, owner, containerId);
            return await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await UndoDeployAsync(record, containerId).ConfigureAwait(false);
            if (ex is RuntimeException or OperationCanceledException)
                throw;
            throw _errors.Translate($"deploying {spec.Name}", ex, cancellationToken) ?? new RuntimeException(RuntimeErrorCode.DockerError, $"deploying {spec.Name}: {ex.Message}", ex);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    /// <summary>Stops the container (SIGTERM, then SIGKILL after <see cref="RuntimeOptions.StopTimeout"/>), keeps it for its logs, and frees its capacity.</summary>
    public async Task<DeploymentStatus> StopAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (record.ContainerId is { } containerId && record.Phase != RecordPhase.Vanished)
            {
                try
                {
                    await _errors.RunAsync($"stopping {record.Spec.Name}",
                        () => _docker.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = StopSeconds }, cancellationToken),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                    record.Reason = "the container was removed outside the runtime";
                }
            }
            if (record.Phase != RecordPhase.Stopped)
            {
                record.Phase = RecordPhase.Stopped;
                record.UpdatedAt = _time.GetUtcNow();
                await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                _admission.Release(record.Id);
            }
            return await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    /// <summary>Stops the container if needed, removes it, and forgets the deployment.</summary>
    public async Task RemoveAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (record.ContainerId is { } containerId)
            {
                try
                {
                    if (record.Phase != RecordPhase.Stopped)
                    {
                        await _errors.RunAsync($"stopping {record.Spec.Name}",
                            () => _docker.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = StopSeconds }, cancellationToken),
                            cancellationToken).ConfigureAwait(false);
                    }
                    await _errors.RunAsync($"removing {record.Spec.Name}",
                        () => _docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                    // Already gone: removing is what was wanted.
                }
            }
            _store.Delete(record.Id);
            _admission.Release(record.Id);
            _deployments.TryRemove(record.Id, out _);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    /// <summary>State, exit code, restarts, uptime, port, and (when <paramref name="includeUsage"/>) CPU and memory use. Takes about a second with usage: the engine samples CPU twice.</summary>
    public async Task<DeploymentStatus> GetStatusAsync(string id, string owner, bool includeUsage = true, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        return await StatusCoreAsync(tracked.Record, includeUsage, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The owner's deployments, oldest first, without usage figures.</summary>
    public async Task<IReadOnlyList<DeploymentStatus>> ListAsync(string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        ValidateOwner(owner);
        var result = new List<DeploymentStatus>();
        foreach (var tracked in _deployments.Values.Where(t => t.Record.Owner == owner).OrderBy(t => t.Record.CreatedAt))
            result.Add(await StatusCoreAsync(tracked.Record, includeUsage: false, cancellationToken).ConfigureAwait(false));
        return result;
    }

    /// <summary>Every deployment of every owner, for the provider's own view.</summary>
    public async Task<IReadOnlyList<DeploymentStatus>> ListAllAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var result = new List<DeploymentStatus>();
        foreach (var tracked in _deployments.Values.OrderBy(t => t.Record.CreatedAt))
            result.Add(await StatusCoreAsync(tracked.Record, includeUsage: false, cancellationToken).ConfigureAwait(false));
        return result;
    }

    /// <summary>
    /// The container's log lines, stdout and stderr kept apart. With <see cref="LogOptions.Follow"/> the
    /// sequence goes on until the container stops or the token is cancelled.
    /// </summary>
    public async IAsyncEnumerable<ContainerLogLine> StreamLogsAsync(string id, string owner, LogOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var record = Find(id, owner).Record;
        if (record.ContainerId is not { } containerId || record.Phase == RecordPhase.Vanished)
            throw new RuntimeException(RuntimeErrorCode.NotFound, $"deployment {id} has no container to read logs from");
        await foreach (var entry in ContainerLogReader.ReadAsync(_docker, _errors, containerId, options ?? new LogOptions(), cancellationToken).ConfigureAwait(false))
            yield return entry;
    }

    /// <summary>Caps, what admitted deployments hold, what is free, and how many are active. Needs no engine.</summary>
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
            _docker.Dispose();
            _stateLock?.Dispose();
            _stateLock = null;
        }
        finally
        {
            _startGate.Release();
        }
    }

    private uint StopSeconds => (uint)Math.Max(0, Math.Ceiling(_options.StopTimeout.TotalSeconds));

    private void EnsureStarted()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_started)
            throw new RuntimeException(RuntimeErrorCode.NotStarted, "the container runtime has not started (StartAsync has not completed)");
    }

    private static void ValidateOwner(string owner)
    {
        if (string.IsNullOrWhiteSpace(owner) || owner.Length > 256 || owner.Any(char.IsControl))
            throw new RuntimeException(RuntimeErrorCode.InvalidSpec, "owner: a PeerId is required");
    }

    /// <summary>Another owner's deployment is reported exactly like a missing one.</summary>
    private Tracked Find(string id, string owner)
    {
        if (id is not null && owner is not null && _deployments.TryGetValue(id, out var tracked) && tracked.Record.Owner == owner)
            return tracked;
        throw new RuntimeException(RuntimeErrorCode.NotFound, $"no deployment {id}");
    }

    private async Task UndoDeployAsync(DeploymentRecord record, string? containerId)
    {
        if (containerId is not null)
        {
            try
            {
                await _docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
            {
                // The record goes too; the next reconcile finds the container as an orphan and removes it after the grace period.
                _logger.LogWarning(ex, "Could not remove container {Container} of failed deploy {Id}", containerId, record.Id);
            }
        }
        _store.Delete(record.Id);
        _admission.Release(record.Id);
        _deployments.TryRemove(record.Id, out _);
    }

    private async Task EnsureNetworkAsync(CancellationToken cancellationToken)
    {
        string name = _options.NetworkName;
        var existing = await FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                await _errors.RunAsync($"creating network {name}", () => _docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
                {
                    Name = name,
                    Driver = "bridge",
                    Attachable = false,
                    Options = new Dictionary<string, string>
                    {
                        ["com.docker.network.bridge.name"] = name,
                        ["com.docker.network.bridge.enable_icc"] = "false",
                    },
                    Labels = new Dictionary<string, string> { [ContainerNaming.Managed] = "true" },
                }, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.DockerError)
            {
                // Another runtime on this engine may have created it at the same moment (the bridge name makes the second create fail).
                existing = await FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
                if (existing is null)
                    throw;
            }
            existing ??= await FindNetworkAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new RuntimeException(RuntimeErrorCode.DockerError, $"network {name} was created but the engine does not list it");
        }
        if (existing.Driver != "bridge"
            || existing.Options is null
            || !existing.Options.TryGetValue("com.docker.network.bridge.enable_icc", out string? icc)
            || icc != "false")
        {
            throw new RuntimeException(RuntimeErrorCode.DockerError,
                $"network {name} exists but is not a bridge with inter-container communication off; remove it (docker network rm {name}) and start again");
        }
    }

    private async Task<NetworkResponse?> FindNetworkAsync(string name, CancellationToken cancellationToken)
    {
        var networks = await _errors.RunAsync("listing networks", () => _docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } },
        }, cancellationToken), cancellationToken).ConfigureAwait(false);
        // The name filter matches substrings.
        return networks.FirstOrDefault(n => n.Name == name);
    }

    private async Task<ReconcileReport> ReconcileCoreAsync(bool removeOrphans, List<string> problems, CancellationToken cancellationToken)
    {
        var containers = await _errors.RunAsync("listing the runtime's containers", () => _docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = ContainerNaming.InstanceFilter(_options.Instance),
        }, cancellationToken), cancellationToken).ConfigureAwait(false);

        var byDeployment = new Dictionary<string, ContainerListResponse>(StringComparer.Ordinal);
        var orphans = new List<ContainerListResponse>();
        foreach (var container in containers)
        {
            string? id = Label(container, ContainerNaming.DeploymentId);
            if (id is not null
                && _deployments.TryGetValue(id, out var tracked)
                && Label(container, ContainerNaming.Owner) == tracked.Record.Owner
                && Label(container, ContainerNaming.SpecHash) == tracked.Record.SpecHash
                && !byDeployment.ContainsKey(id))
            {
                byDeployment[id] = container;
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
                if (byDeployment.TryGetValue(record.Id, out var container))
                {
                    if (await AdoptAsync(record, container, cancellationToken).ConfigureAwait(false))
                        adopted.Add(record.Id);
                }
                else if (record.Phase is RecordPhase.Admitted or RecordPhase.Active)
                {
                    record.Reason = record.Phase == RecordPhase.Admitted
                        ? "the deploy was interrupted before its container was created"
                        : "the container disappeared (removed outside the runtime)";
                    record.Phase = RecordPhase.Vanished;
                    record.UpdatedAt = _time.GetUtcNow();
                    await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                    _admission.Release(record.Id);
                    vanished.Add(record.Id);
                    _logger.LogWarning("Deployment {Id}: {Reason}", record.Id, record.Reason);
                }
            }
            finally
            {
                tracked.Gate.Release();
            }
        }

        var now = _time.GetUtcNow();
        var orphanIds = new List<string>();
        var removed = new List<string>();
        foreach (var orphan in orphans)
        {
            var firstSeen = _orphansFirstSeen.GetOrAdd(orphan.ID, now);
            var createdAt = orphan.Created == default ? now : new DateTimeOffset(DateTime.SpecifyKind(orphan.Created, DateTimeKind.Utc));
            if (removeOrphans && now - firstSeen >= _options.OrphanGracePeriod && now - createdAt >= _options.OrphanGracePeriod)
            {
                try
                {
                    await _errors.RunAsync("removing an orphaned container", () => _docker.Containers.RemoveContainerAsync(orphan.ID,
                        new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken), cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                }
                _orphansFirstSeen.TryRemove(orphan.ID, out _);
                removed.Add(orphan.ID);
                _logger.LogWarning("Removed orphaned container {Container} (labelled deployment {Id}, no record)", orphan.ID, Label(orphan, ContainerNaming.DeploymentId));
            }
            else
            {
                orphanIds.Add(orphan.ID);
            }
        }
        // Forget orphans that went away by themselves.
        foreach (string seen in _orphansFirstSeen.Keys)
        {
            if (!orphans.Any(o => o.ID == seen))
                _orphansFirstSeen.TryRemove(seen, out _);
        }
        return new ReconcileReport(adopted, vanished, orphanIds, removed, problems);
    }

    /// <summary>Binds a record to its container; completes a deploy that was interrupted between create and start.</summary>
    private async Task<bool> AdoptAsync(DeploymentRecord record, ContainerListResponse container, CancellationToken cancellationToken)
    {
        bool changed = record.ContainerId != container.ID;
        record.ContainerId = container.ID;
        switch (record.Phase)
        {
            case RecordPhase.Admitted:
                if (container.State == "created")
                {
                    await _errors.RunAsync($"starting the container for {record.Spec.Name}",
                        () => _docker.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), cancellationToken), cancellationToken).ConfigureAwait(false);
                }
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

    private async Task<DeploymentStatus> StatusCoreAsync(DeploymentRecord record, bool includeUsage, CancellationToken cancellationToken)
    {
        ContainerInspectResponse? inspect = null;
        if (record.ContainerId is { } containerId && record.Phase != RecordPhase.Vanished)
        {
            try
            {
                inspect = await _errors.RunAsync($"inspecting {record.Spec.Name}",
                    () => _docker.Containers.InspectContainerAsync(containerId, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
            {
                inspect = null;
            }
        }

        DeploymentState state;
        string? reason = record.Reason;
        var containerState = inspect?.State;
        if (record.Phase == RecordPhase.Vanished)
            state = DeploymentState.Vanished;
        else if (record.Phase == RecordPhase.Stopped)
            state = DeploymentState.Stopped;
        else if (containerState is null)
        {
            state = record.Phase == RecordPhase.Admitted ? DeploymentState.Pending : DeploymentState.Vanished;
            if (state == DeploymentState.Vanished)
                reason ??= "the container disappeared (removed outside the runtime)";
        }
        else if (containerState.Restarting)
            state = DeploymentState.Restarting;
        else if (containerState.Running)
            state = DeploymentState.Running;
        else if (record.Phase == RecordPhase.Admitted)
            state = DeploymentState.Pending;
        else
            state = DeploymentState.Exited;

        if (!string.IsNullOrEmpty(containerState?.Error))
            reason = containerState.Error;

        DateTimeOffset? startedAt = ParseEngineTime(containerState?.StartedAt);
        bool running = state == DeploymentState.Running;
        int? hostPort = running ? HostPortOf(inspect!, record.Spec.ContainerPort) : null;

        ResourceUsage? usage = null;
        if (includeUsage && running)
            usage = await TryGetUsageAsync(inspect!.ID, cancellationToken).ConfigureAwait(false);

        IReadOnlyList<ContainerLogLine> lastLines = [];
        if (inspect is not null && (!running || inspect.RestartCount > 0) && _options.StatusLogLines > 0)
            lastLines = await TryTailAsync(inspect.ID, cancellationToken).ConfigureAwait(false);

        return new DeploymentStatus
        {
            Id = record.Id,
            Name = record.Spec.Name,
            Owner = record.Owner,
            Image = record.Spec.Image,
            SpecHash = record.SpecHash,
            State = state,
            CpuMillicores = record.Spec.CpuMillicores,
            MemoryBytes = record.Spec.MemoryBytes,
            CreatedAt = record.CreatedAt,
            ContainerId = record.ContainerId,
            HostPort = hostPort,
            ExitCode = containerState is not null && !running && startedAt is not null ? containerState.ExitCode : null,
            OomKilled = containerState?.OOMKilled ?? false,
            RestartCount = inspect?.RestartCount ?? 0,
            StartedAt = startedAt,
            Uptime = running && startedAt is { } started ? _time.GetUtcNow() - started : null,
            Usage = usage,
            LastLogLines = lastLines,
            Reason = reason,
        };
    }

    private static int? HostPortOf(ContainerInspectResponse inspect, int containerPort)
    {
        if (inspect.NetworkSettings?.Ports is { } ports
            && ports.TryGetValue(ContainerSpecBuilder.PortKey(containerPort), out var bindings)
            && bindings is not null)
        {
            foreach (var binding in bindings)
            {
                if (binding.HostIP == ContainerSpecBuilder.LoopbackAddress && int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out int port))
                    return port;
            }
        }
        return null;
    }

    private async Task<ResourceUsage?> TryGetUsageAsync(string containerId, CancellationToken cancellationToken)
    {
        var sample = new LastValue<ContainerStatsResponse>();
        try
        {
            await _errors.RunAsync("reading container stats", () => _docker.Containers.GetContainerStatsAsync(containerId,
                new ContainerStatsParameters { Stream = false }, sample, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
        return sample.Value is null ? null : UsageCalculator.From(sample.Value);
    }

    private async Task<IReadOnlyList<ContainerLogLine>> TryTailAsync(string containerId, CancellationToken cancellationToken)
    {
        var lines = new List<ContainerLogLine>();
        try
        {
            await foreach (var entry in ContainerLogReader.ReadAsync(_docker, _errors, containerId, new LogOptions { Tail = _options.StatusLogLines }, cancellationToken).ConfigureAwait(false))
                lines.Add(entry);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
        }
        return lines;
    }

    private static string? Label(ContainerListResponse container, string key)
        => container.Labels is { } labels && labels.TryGetValue(key, out string? value) ? value : null;

    private static DateTimeOffset? ParseEngineTime(string? text)
    {
        // The engine reports "0001-01-01T00:00:00Z" for never.
        if (string.IsNullOrEmpty(text) || !LogLineParser.TryParseTimestamp(text, out var value) || value.Year <= 1)
            return null;
        return value;
    }

    private sealed class Tracked(DeploymentRecord record)
    {
        public DeploymentRecord Record { get; } = record;
        public SemaphoreSlim Gate { get; } = new(1, 1);
    }

    /// <summary>Synchronous progress sink (Progress&lt;T&gt; posts callbacks later, after the call returned).</summary>
    private sealed class LastValue<T> : IProgress<T>
    {
        public T? Value { get; private set; }
        public void Report(T value) => Value = value;
    }
}

using System.Runtime.CompilerServices;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using PeerCompute.Runtime;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Provider.Service;

/// <summary>Maps the application protocol onto the deployment runtime (its seam, not one engine), and runtime failures onto error codes.</summary>
/// <param name="domainStatus">Asks the gateways where custom domains stand (one entry per domain and gateway); null: no gateway.</param>
public sealed class RuntimeBackend(IDeploymentRuntime runtime, PeerId provider, Func<string, string?> publicUrlFor, ReadinessOptions readiness, Func<Task>? deploymentsChanged = null,
    Func<IReadOnlyList<string>, CancellationToken, Task<IReadOnlyList<DomainInfo>>>? domainStatus = null) : IProviderBackend
{
    public async Task<DeployResponse> DeployAsync(DeployRequest request, PeerId owner, IProgress<DeployProgress> progress, CancellationToken cancellationToken)
    {
        var strategy = request.Strategy switch
        {
            null or DeployRequest.StrategyRolling => UpdateStrategy.Rolling,
            DeployRequest.StrategyRecreate => UpdateStrategy.Recreate,
            _ => throw new ProviderException(ErrorCodes.InvalidRequest, $"strategy '{request.Strategy}': expected {DeployRequest.StrategyRolling} or {DeployRequest.StrategyRecreate}"),
        };
        if (request.Rollback)
        {
            var current = await FindAsync(request.Name ?? "", owner, cancellationToken).ConfigureAwait(false);
            var rolledBack = await Call(() => runtime.RollbackAsync(current.Id, owner.ToString(), new UpdateOptions(strategy, readiness), cancellationToken)).ConfigureAwait(false);
            return await UpdatedAsync(rolledBack).ConfigureAwait(false);
        }
        var spec = new DeploymentSpec
        {
            Name = string.IsNullOrWhiteSpace(request.Name) ? DefaultName(request.Image) : request.Name,
            Image = request.Image,
            ContainerPort = request.Port ?? DeploymentSpec.PortFromImage,
            CpuMillicores = request.CpuMillicores,
            MemoryBytes = request.MemoryBytes,
            Environment = request.Env ?? new Dictionary<string, string>(),
            Command = request.Command,
            ReadOnlyRootFilesystem = !request.WritableRootfs,
            RegistryCredentials = request.Registry is { } r ? new PeerCompute.Runtime.Deployments.RegistryCredentials(r.Username, r.Password) { ServerAddress = r.ServerAddress } : null,
            Health = HealthOf(request),
            Restart = request.Restart is null ? null
                : RestartModes.TryParse(request.Restart, out var restart) ? restart
                : throw new ProviderException(ErrorCodes.InvalidRequest, $"restart: '{request.Restart}' is not one of no, on-failure, unless-stopped."),
            VolumeMounts = request.Volumes is { } volumes ? [.. volumes.Select(ParseVolume)] : null,
            Access = AccessModes.TryParse(request.Access, out var access) ? access
                : throw new ProviderException(ErrorCodes.InvalidRequest, $"access: '{request.Access}' is not public, private or basic"),
            BasicUser = request.BasicUser,
            BasicPasswordHash = request.BasicPasswordHash,
            App = request.App,
            Service = request.Service,
            Private = request.Private,
            Domains = request.Domains is { Count: > 0 } domains ? [.. domains.Select(CustomDomain.Normalize).Distinct(StringComparer.Ordinal)] : null,
        };
        var pullProgress = new Progress(progress);
        // The caller's own deployment of that name: this deploy is its next revision (another owner's name stays taken).
        var mine = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
        if (mine.FirstOrDefault(d => d.Name == spec.Name) is { } existing)
        {
            // An update without --domain keeps the deployment's custom domains (added by `peerctl domain add`, say).
            if (request.Domains is null && existing.Domains.Count > 0)
                spec = spec with { Domains = existing.Domains };
            var updated = await Call(() => runtime.UpdateAsync(existing.Id, owner.ToString(), spec, new UpdateOptions(strategy, request.NoWait ? null : readiness), pullProgress, cancellationToken)).ConfigureAwait(false);
            return await UpdatedAsync(updated).ConfigureAwait(false);
        }
        var status = await Call(() => runtime.DeployAsync(spec, owner.ToString(), pullProgress, cancellationToken)).ConfigureAwait(false);
        ReadinessResult? ready = null;
        if (!request.NoWait)
        {
            ready = await Call(() => runtime.WaitUntilReadyAsync(status, readiness, cancellationToken)).ConfigureAwait(false);
            status = ready.Status;
        }
        if (deploymentsChanged is not null)
            await deploymentsChanged().ConfigureAwait(false);
        if (ready is { Outcome: ReadinessOutcome.NotAnswering })
            throw new ProviderException(ErrorCodes.NotAnswering, NotAnsweringMessage(status, ready.Listening, ready.CheckFailure));
        return new DeployResponse(status.Id, status.Name, provider.ToString(), StateText(status.State), LocalUrl(status), PublicUrl(status), status.CpuMillicores, status.MemoryBytes);
    }

    private async Task<DeployResponse> UpdatedAsync(UpdateResult updated)
    {
        if (deploymentsChanged is not null)
            await deploymentsChanged().ConfigureAwait(false);
        var status = updated.Status;
        return new DeployResponse(status.Id, status.Name, provider.ToString(), StateText(status.State), LocalUrl(status), PublicUrl(status), status.CpuMillicores, status.MemoryBytes,
            updated.Revision, Updated: true);
    }

    public async Task<StopResponse> StopAsync(StopRequest request, PeerId owner, CancellationToken cancellationToken)
    {
        var found = await FindAsync(request.Deployment, owner, cancellationToken).ConfigureAwait(false);
        await Call(() => runtime.StopAsync(found.Id, owner.ToString(), cancellationToken)).ConfigureAwait(false);
        await Call(async () => { await runtime.RemoveAsync(found.Id, owner.ToString(), cancellationToken).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
        if (deploymentsChanged is not null)
            await deploymentsChanged().ConfigureAwait(false);
        return new StopResponse(found.Id, found.Name, "removed");
    }

    public async Task<StatusResponse> StatusAsync(StatusRequest request, PeerId owner, CancellationToken cancellationToken)
    {
        if (request.Deployment is { } one)
        {
            var mine = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
            // A deployment by id or name, else every service of the app of that name.
            var found = mine.FirstOrDefault(d => d.Id == one) ?? mine.FirstOrDefault(d => d.Name == one);
            var services = found is null ? [.. mine.Where(d => d.App == one)] : new List<DeploymentStatus> { found };
            if (services.Count == 0)
                throw new ProviderException(ErrorCodes.NotFound, $"No deployment '{one}'.");
            var detailed = new List<DeploymentInfo>(services.Count);
            foreach (var service in services)
            {
                var info = ToInfo(await Call(() => runtime.GetStatusAsync(service.Id, owner.ToString(), includeUsage: !request.History, cancellationToken)).ConfigureAwait(false));
                var history = await Call(() => runtime.GetHistoryAsync(service.Id, owner.ToString(), cancellationToken)).ConfigureAwait(false);
                detailed.Add(info with
                {
                    Revision = history.LastOrDefault(r => r.Result == RevisionResult.Running)?.Number,
                    Revisions = request.History ? [.. history.Select(r => new RevisionInfo(r.Number, r.Image, r.ImageDigest, r.CreatedAt, ResultText(r.Result), r.Reason, r.RollbackOf))] : null,
                });
            }
            return new StatusResponse(provider.ToString(), await WithDomainsAsync(detailed, cancellationToken).ConfigureAwait(false), CapacityOf(runtime.GetCapacity()));
        }
        var list = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
        var infos = new List<DeploymentInfo>();
        foreach (var s in list)
        {
            var history = await Call(() => runtime.GetHistoryAsync(s.Id, owner.ToString(), cancellationToken)).ConfigureAwait(false);
            infos.Add(ToInfo(s) with { Revision = history.LastOrDefault(r => r.Result == RevisionResult.Running)?.Number });
        }
        return new StatusResponse(provider.ToString(), await WithDomainsAsync(infos, cancellationToken).ConfigureAwait(false), CapacityOf(runtime.GetCapacity()));
    }

    /// <summary>The deployments, each custom domain with where it stands at every gateway (asked once for all of them).</summary>
    private async Task<List<DeploymentInfo>> WithDomainsAsync(List<DeploymentInfo> infos, CancellationToken cancellationToken)
    {
        if (domainStatus is null || infos.All(i => i.Domains is not { Count: > 0 }))
            return infos;
        var names = infos.SelectMany(i => i.Domains ?? []).Select(d => d.Name).Distinct(StringComparer.Ordinal).ToList();
        var states = (await domainStatus(names, cancellationToken).ConfigureAwait(false)).ToLookup(d => d.Name, StringComparer.Ordinal);
        return [.. infos.Select(i => i.Domains is not { Count: > 0 } domains ? i
            : i with { Domains = [.. domains.SelectMany(d => states[d.Name].DefaultIfEmpty(d))] })];
    }

    private static CapacityInfo CapacityOf(PeerCompute.Runtime.Admission.CapacityReport capacity)
        => new(capacity.TotalCpuMillicores, capacity.TotalMemoryBytes, capacity.MaxDeploys, capacity.UsedCpuMillicores, capacity.UsedMemoryBytes, capacity.Deploys,
            capacity.TotalStorageBytes, capacity.UsedStorageBytes);

    private static string ResultText(RevisionResult result) => result switch
    {
        RevisionResult.Running => "running",
        RevisionResult.Replaced => "replaced",
        RevisionResult.Failed => "failed",
        _ => "rolled-back",
    };

    public async Task<StatusResponse> DomainsAsync(DomainRequest request, PeerId owner, CancellationToken cancellationToken)
    {
        var found = await FindAsync(request.Deployment, owner, cancellationToken).ConfigureAwait(false);
        string? domain = (request.Domain is null ? null : CustomDomain.Normalize(request.Domain));
        var current = found.Domains;
        IReadOnlyList<string>? next = request.Action switch
        {
            DomainRequest.List => null,
            DomainRequest.Add or DomainRequest.Remove when string.IsNullOrEmpty(domain) => throw new ProviderException(ErrorCodes.InvalidRequest, $"Domain {request.Action} needs the domain."),
            DomainRequest.Add when current.Contains(domain!, StringComparer.Ordinal) => null,
            DomainRequest.Add => [.. current, domain!],
            DomainRequest.Remove when !current.Contains(domain!, StringComparer.Ordinal)
                => throw new ProviderException(ErrorCodes.NotFound, $"{found.Name} has no custom domain {domain} (it has {(current.Count == 0 ? "none" : string.Join(", ", current))})."),
            DomainRequest.Remove => [.. current.Where(d => d != domain)],
            _ => throw new ProviderException(ErrorCodes.InvalidRequest, $"Unknown domain action '{request.Action}' (expected {DomainRequest.Add}, {DomainRequest.Remove} or {DomainRequest.List})."),
        };
        if (next is not null)
        {
            await Call(() => runtime.SetDomainsAsync(found.Id, owner.ToString(), next, cancellationToken)).ConfigureAwait(false);
            if (deploymentsChanged is not null)
                await deploymentsChanged().ConfigureAwait(false);
        }
        return await StatusAsync(new StatusRequest(request.Timestamp, request.Nonce, found.Id), owner, cancellationToken).ConfigureAwait(false);
    }

    public async Task<VolumeResponse> VolumesAsync(VolumeRequest request, PeerId owner, CancellationToken cancellationToken)
    {
        switch (request.Action)
        {
            case VolumeRequest.List:
                break;
            case VolumeRequest.Remove when !string.IsNullOrEmpty(request.Name):
                await Call(async () => { await runtime.RemoveVolumeAsync(owner.ToString(), request.Name, cancellationToken).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
                break;
            case VolumeRequest.Remove:
                throw new ProviderException(ErrorCodes.InvalidRequest, "Removing a volume needs its name.");
            default:
                throw new ProviderException(ErrorCodes.InvalidRequest, $"Unknown volume action '{request.Action}' (expected {VolumeRequest.List} or {VolumeRequest.Remove}).");
        }
        var volumes = await Call(() => runtime.ListVolumesAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
        var capacity = runtime.GetCapacity();
        return new VolumeResponse(provider.ToString(), [.. volumes.Select(v => new VolumeSummary(v.Name, v.SizeBytes, v.UsedBytes, v.UsedBy, v.CreatedAt))],
            capacity.TotalStorageBytes, capacity.UsedStorageBytes);
    }

    private static VolumeMount ParseVolume(string text)
        => VolumeMount.TryParse(text, out var mount, out string error) ? mount : throw new ProviderException(ErrorCodes.InvalidRequest, error);

    public async IAsyncEnumerable<LogEntry> LogsAsync(LogsRequest request, PeerId owner, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var found = await FindAsync(request.Deployment, owner, cancellationToken).ConfigureAwait(false);
        var options = new LogOptions { Tail = request.Tail, Follow = request.Follow, Since = request.Since };
        var lines = request.Previous ? PreviousLines(found.Id, owner, options, cancellationToken) : runtime.StreamLogsAsync(found.Id, owner.ToString(), options, cancellationToken);
        await foreach (var entry in lines.ConfigureAwait(false))
            yield return new LogEntry(entry.Stream == LogStream.Stderr ? "stderr" : "stdout", entry.Timestamp, entry.Text);
    }

    /// <summary>The health check a request asks for; the runtime checks the values' ranges.</summary>
    private static HealthCheckSpec? HealthOf(DeployRequest request)
    {
        bool tuned = request.HealthIntervalMs is not null || request.HealthTimeoutMs is not null || request.HealthRetries is not null || request.HealthStartPeriodMs is not null;
        if (request.HealthHttp is not null && request.HealthTcp)
            throw new ProviderException(ErrorCodes.InvalidRequest, "health check: choose --health-http PATH or --health-tcp, not both.");
        if (request.HealthHttp is null && !request.HealthTcp)
            return tuned ? throw new ProviderException(ErrorCodes.InvalidRequest, "health check: --health-interval, --health-timeout, --health-retries and --health-start-period need --health-http PATH or --health-tcp.") : null;
        var interval = Milliseconds(request.HealthIntervalMs, HealthCheckSpec.DefaultInterval);
        return new HealthCheckSpec
        {
            Kind = request.HealthTcp ? HealthCheckKind.Tcp : HealthCheckKind.Http,
            Path = request.HealthHttp,
            Interval = interval,
            // A short interval without a timeout of its own: the default timeout would be longer than it.
            Timeout = Milliseconds(request.HealthTimeoutMs, HealthCheckSpec.DefaultTimeout < interval ? HealthCheckSpec.DefaultTimeout : interval),
            Retries = request.HealthRetries ?? HealthCheckSpec.DefaultRetries,
            StartPeriod = Milliseconds(request.HealthStartPeriodMs, HealthCheckSpec.DefaultStartPeriod),
        };

        static TimeSpan Milliseconds(long? value, TimeSpan fallback) => value switch
        {
            null => fallback,
            < 0 or > 24L * 3600 * 1000 => throw new ProviderException(ErrorCodes.InvalidRequest, $"health check: {value} ms is out of range."),
            { } ms => TimeSpan.FromMilliseconds(ms),
        };
    }

    /// <summary>The kept log of the previous container, cut as the request asks (it no longer grows: there is nothing to follow).</summary>
    private async IAsyncEnumerable<ContainerLogLine> PreviousLines(string id, PeerId owner, LogOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var all = new List<ContainerLogLine>();
        try
        {
            await foreach (var line in runtime.ReadPreviousLogsAsync(id, owner.ToString(), cancellationToken).ConfigureAwait(false))
            {
                if (options.Since is not { } since || line.Timestamp >= since)
                    all.Add(line);
            }
        }
        catch (RuntimeException ex)
        {
            throw new ProviderException(CodeOf(ex.Code), ex.Message);
        }
        foreach (var line in options.Tail is { } tail ? all.TakeLast(Math.Max(0, tail)) : all)
            yield return line;
    }

    private DeploymentInfo ToInfo(DeploymentStatus s) => new(
        s.Id, s.Name, s.Image, StateText(s.State), s.CpuMillicores, s.MemoryBytes, s.CreatedAt,
        LocalUrl(s), s.State is DeploymentState.Running ? PublicUrl(s) : null,
        s.ExitCode is { } code ? (int)code : null, s.OomKilled, (int)s.RestartCount,
        s.Usage is { } u ? u.CpuMillicores / 10.0 : null, s.Usage?.MemoryBytes,
        s.State is DeploymentState.Running ? null : [.. s.LastLogLines.Select(l => l.Text)],
        RestartModes.Format(s.Restart), s.Health is { } h ? h.State.ToString().ToLowerInvariant() : null, s.Health?.Source,
        s.Health?.LastFailureAt, s.Health?.LastFailure, s.LastExitCode is { } last ? (int)last : null, s.LastExitAt, s.NextRestartAt,
        Access: s.Access.ToText(), App: s.App, Service: s.Service,
        Domains: s.Domains.Count == 0 ? null : [.. s.Domains.Select(d => new DomainInfo(d, "unknown", "the provider has no gateway to serve it"))]);

    /// <summary>A private service of an app has none: only its app's other services reach it.</summary>
    private string? PublicUrl(DeploymentStatus s) => s.Private ? null : publicUrlFor(s.Name);

    /// <summary>By id, or by name; another owner's deployments do not exist for this owner.</summary>
    private async Task<DeploymentStatus> FindAsync(string idOrName, PeerId owner, CancellationToken cancellationToken)
    {
        var mine = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
        return mine.FirstOrDefault(d => d.Id == idOrName)
            ?? mine.FirstOrDefault(d => d.Name == idOrName)
            ?? throw new ProviderException(ErrorCodes.NotFound, $"No deployment '{idOrName}'.");
    }

    /// <summary>Says the deployment stays, and what to do about it; scripts match "running, but nothing answers on port N inside the container".</summary>
    private string NotAnsweringMessage(DeploymentStatus s, IReadOnlyList<int> listening, string? checkFailure)
    {
        if (checkFailure is not null)
            return $"{s.Name} ({s.Id}) is running, but its health check did not pass within {readiness.Timeout.TotalSeconds:0.#} s (last: {checkFailure}). "
                + $"It stays deployed: see its output with `peerctl logs {s.Name}`, stop it with `peerctl stop {s.Name}`.";
        string where = listening.Count == 0 ? "" : $" (it listens on {string.Join(", ", listening)})";
        string redeploy = listening is [int port] ? $", or stop it and deploy again with --port {port}" : "";
        return $"{s.Name} ({s.Id}) is running, but nothing answers on port {s.ContainerPort} inside the container{where} after {readiness.Timeout.TotalSeconds:0.#} s. "
            + $"It stays deployed: see its output with `peerctl logs {s.Name}`, stop it with `peerctl stop {s.Name}`{redeploy}.";
    }

    private static string LocalUrl(DeploymentStatus s) => s.HostPort is { } port ? $"http://127.0.0.1:{port}" : "";

    private static string StateText(DeploymentState state) => state.ToString().ToLowerInvariant();

    private static string DefaultName(string image)
    {
        string last = image.Split('@')[0].Split('/')[^1].Split(':')[0];
        var cleaned = new string([.. last.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-')]).Trim('-');
        return string.IsNullOrEmpty(cleaned) ? "app" : cleaned;
    }

    private static async Task<T> Call<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (RuntimeException ex)
        {
            throw new ProviderException(CodeOf(ex.Code), ex.Message);
        }
    }

    private static string CodeOf(RuntimeErrorCode code) => code switch
    {
        RuntimeErrorCode.InvalidSpec => ErrorCodes.InvalidRequest,
        RuntimeErrorCode.CapacityExceeded => ErrorCodes.CapacityExceeded,
        RuntimeErrorCode.NameTaken => ErrorCodes.NameTaken,
        RuntimeErrorCode.ImageNotFound => ErrorCodes.ImageNotFound,
        RuntimeErrorCode.ImagePullFailed or RuntimeErrorCode.DigestMismatch => ErrorCodes.PullFailed,
        RuntimeErrorCode.ImageAccessDenied => ErrorCodes.ImageAccessDenied,
        RuntimeErrorCode.RegistryBlocked => ErrorCodes.RegistryBlocked,
        RuntimeErrorCode.DockerUnavailable or RuntimeErrorCode.NotStarted or RuntimeErrorCode.StateLocked or RuntimeErrorCode.EgressUnavailable or RuntimeErrorCode.StateWriteFailed => ErrorCodes.RuntimeUnavailable,
        RuntimeErrorCode.NotFound => ErrorCodes.NotFound,
        RuntimeErrorCode.WritableUnbounded => ErrorCodes.WritableUnbounded,
        RuntimeErrorCode.ImageTooLarge => ErrorCodes.ImageTooLarge,
        RuntimeErrorCode.VolumeInUse => ErrorCodes.VolumeInUse,
        RuntimeErrorCode.VolumesUnavailable => ErrorCodes.VolumesUnavailable,
        RuntimeErrorCode.UpdateFailed => ErrorCodes.UpdateFailed,
        _ => ErrorCodes.Internal,
    };

    private sealed class Progress(IProgress<DeployProgress> target) : IProgress<PullProgress>
    {
        public void Report(PullProgress value) => target.Report(new DeployProgress(value.Status, value.Layer, value.CurrentBytes, value.TotalBytes));
    }
}

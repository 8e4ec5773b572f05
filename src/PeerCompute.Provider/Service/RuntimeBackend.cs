using System.Runtime.CompilerServices;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using PeerCompute.Runtime;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Provider.Service;

/// <summary>Maps the application protocol onto the deployment runtime (its seam, not one engine), and runtime failures onto error codes.</summary>
public sealed class RuntimeBackend(IDeploymentRuntime runtime, PeerId provider, Func<string, string?> publicUrlFor, ReadinessOptions readiness, Func<Task>? deploymentsChanged = null) : IProviderBackend
{
    public async Task<DeployResponse> DeployAsync(DeployRequest request, PeerId owner, IProgress<DeployProgress> progress, CancellationToken cancellationToken)
    {
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
            App = request.App,
            Service = request.Service,
            Private = request.Private,
        };
        var pullProgress = new Progress(progress);
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
            throw new ProviderException(ErrorCodes.NotAnswering, NotAnsweringMessage(status, ready.Listening));
        return new DeployResponse(status.Id, status.Name, provider.ToString(), StateText(status.State), LocalUrl(status), PublicUrl(status), status.CpuMillicores, status.MemoryBytes);
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
        IReadOnlyList<DeploymentStatus> list;
        if (request.Deployment is { } one)
        {
            var mine = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
            // A deployment by id or name, else every service of the app of that name.
            var found = mine.FirstOrDefault(d => d.Id == one) ?? mine.FirstOrDefault(d => d.Name == one);
            var services = found is null ? [.. mine.Where(d => d.App == one)] : new List<DeploymentStatus> { found };
            if (services.Count == 0)
                throw new ProviderException(ErrorCodes.NotFound, $"No deployment '{one}'.");
            var detailed = new List<DeploymentStatus>(services.Count);
            foreach (var service in services)
                detailed.Add(await Call(() => runtime.GetStatusAsync(service.Id, owner.ToString(), includeUsage: true, cancellationToken)).ConfigureAwait(false));
            list = detailed;
        }
        else
        {
            list = await Call(() => runtime.ListAsync(owner.ToString(), cancellationToken)).ConfigureAwait(false);
        }
        var capacity = runtime.GetCapacity();
        return new StatusResponse(
            provider.ToString(),
            [.. list.Select(ToInfo)],
            new CapacityInfo(capacity.TotalCpuMillicores, capacity.TotalMemoryBytes, capacity.MaxDeploys, capacity.UsedCpuMillicores, capacity.UsedMemoryBytes, capacity.Deploys));
    }

    public async IAsyncEnumerable<LogEntry> LogsAsync(LogsRequest request, PeerId owner, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var found = await FindAsync(request.Deployment, owner, cancellationToken).ConfigureAwait(false);
        var options = new LogOptions { Tail = request.Tail, Follow = request.Follow, Since = request.Since };
        await foreach (var entry in runtime.StreamLogsAsync(found.Id, owner.ToString(), options, cancellationToken).ConfigureAwait(false))
            yield return new LogEntry(entry.Stream == LogStream.Stderr ? "stderr" : "stdout", entry.Timestamp, entry.Text);
    }

    private DeploymentInfo ToInfo(DeploymentStatus s) => new(
        s.Id, s.Name, s.Image, StateText(s.State), s.CpuMillicores, s.MemoryBytes, s.CreatedAt,
        LocalUrl(s), s.State is DeploymentState.Running ? PublicUrl(s) : null,
        s.ExitCode is { } code ? (int)code : null, s.OomKilled, (int)s.RestartCount,
        s.Usage is { } u ? u.CpuMillicores / 10.0 : null, s.Usage?.MemoryBytes,
        s.State is DeploymentState.Running ? null : [.. s.LastLogLines.Select(l => l.Text)],
        s.App, s.Service);

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
    private string NotAnsweringMessage(DeploymentStatus s, IReadOnlyList<int> listening)
    {
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
        _ => ErrorCodes.Internal,
    };

    private sealed class Progress(IProgress<DeployProgress> target) : IProgress<PullProgress>
    {
        public void Report(PullProgress value) => target.Report(new DeployProgress(value.Status, value.Layer, value.CurrentBytes, value.TotalBytes));
    }
}

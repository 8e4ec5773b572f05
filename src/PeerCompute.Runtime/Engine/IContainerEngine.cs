using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Engine;

/// <summary>
/// What the runtime asks of a container engine, in the runtime's own shapes: no engine's types cross this line,
/// so another engine (Podman's Docker-compatible API, containerd) is another implementation of it.
/// </summary>
/// <remarks>
/// Every failure is a <see cref="RuntimeException"/>: <see cref="RuntimeErrorCode.NotFound"/> for a container that does
/// not exist, <see cref="RuntimeErrorCode.DockerUnavailable"/> when the engine cannot be reached,
/// <see cref="RuntimeErrorCode.DockerError"/> when it refused. Where a method takes <c>doing</c> (the caller's words for
/// what it was doing) the message starts with it, so the reason reads as the runtime's; the others name their own
/// step. The caller's own cancellation stays an <see cref="OperationCanceledException"/>.
/// </remarks>
internal interface IContainerEngine : IDisposable
{
    /// <summary>Where the engine is reached.</summary>
    Uri Endpoint { get; }

    /// <summary>The network of exactly that name; null when there is none.</summary>
    Task<NetworkFacts?> FindNetworkAsync(string name, CancellationToken cancellationToken);

    Task CreateNetworkAsync(NetworkDefinition network, CancellationToken cancellationToken);

    /// <summary>Removes the network; nothing when there is none. Fails while a container is attached.</summary>
    Task RemoveNetworkAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// The id of the image the engine holds under the reference (a pinned digest checked to be really what it holds);
    /// null when it holds none.
    /// </summary>
    Task<string?> FindImageAsync(ImageReference image, CancellationToken cancellationToken);

    /// <summary>
    /// Pulls the image with the credentials (none: anonymously), progress reported synchronously, in order, then checks
    /// a pinned digest. Returns the image id.
    /// A failure is <see cref="RuntimeErrorCode.ImageNotFound"/>, <see cref="RuntimeErrorCode.ImageAccessDenied"/> or
    /// <see cref="RuntimeErrorCode.ImagePullFailed"/>, in words of the runtime's own, never the engine's.
    /// </summary>
    /// <summary>The ids of every image the engine holds.</summary>
    Task<IReadOnlySet<string>> ListImageIdsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Asks the image's registry whether the credentials (none: anonymously) may read the image now, without pulling;
    /// fails as <see cref="PullImageAsync"/> does.
    /// </summary>
    Task CheckImageAccessAsync(ImageReference image, RegistryCredentials? credentials, CancellationToken cancellationToken);

    Task<string> PullImageAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken);

    /// <summary>The unpacked size and the declared (EXPOSE) TCP ports of an image the engine holds; null when it holds none of that name or id.</summary>
    Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken);

    /// <summary>Removes the image unless a container still uses it or another name refers to it (never forced).</summary>
    Task RemoveImageAsync(string image, CancellationToken cancellationToken);

    /// <summary>
    /// What the engine's storage can do (see <see cref="EngineStorage"/>): whether it accepts a container whose writable
    /// layer is capped at <paramref name="writableBytes"/>, tried on a throwaway container, and whether it remaps users.
    /// </summary>
    Task<EngineStorage> ProbeStorageAsync(long writableBytes, CancellationToken cancellationToken);

    /// <summary>Creates (does not start) the container; returns its id.</summary>
    Task<string> CreateContainerAsync(ContainerDefinition spec, string doing, CancellationToken cancellationToken);

    Task StartContainerAsync(string containerId, string doing, CancellationToken cancellationToken);

    /// <summary>SIGTERM, then SIGKILL after <paramref name="timeout"/>.</summary>
    Task StopContainerAsync(string containerId, TimeSpan timeout, string doing, CancellationToken cancellationToken);

    /// <summary>Removes the container, running or not.</summary>
    Task RemoveContainerAsync(string containerId, bool removeVolumes, string doing, CancellationToken cancellationToken);

    /// <summary>What the container is doing now; null when it does not exist.</summary>
    Task<ContainerFacts?> InspectContainerAsync(string containerId, string doing, CancellationToken cancellationToken);

    /// <summary>Every container, running or not, labelled as managed by this runtime <paramref name="instance"/>.</summary>
    Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(string instance, CancellationToken cancellationToken);

    /// <summary>One sample of CPU and memory use; null when the container does not exist or the engine gave none.</summary>
    Task<ResourceUsage?> ReadUsageAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>
    /// The container's log lines, stdout and stderr kept apart. With <see cref="LogOptions.Follow"/> the sequence goes
    /// on until the container stops or the token is cancelled.
    /// </summary>
    IAsyncEnumerable<ContainerLogLine> ReadLogsAsync(string containerId, LogOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Every exit of a container of this instance as it happens (the engine's "die" events), until cancelled or the
    /// connection breaks (then it throws). An engine without events never yields: restarts are then the engine's alone.
    /// </summary>
    async IAsyncEnumerable<ContainerExit> WatchExitsAsync(string instance, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        yield break;
    }
}

/// <summary>A container's process exited: its id, the deployment label, exit code (-1 when the engine did not say), and when.</summary>
internal sealed record ContainerExit(string ContainerId, string? DeploymentId, long ExitCode, DateTimeOffset Time);

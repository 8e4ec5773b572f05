using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime;

/// <summary>
/// The provider's deployments as the daemon drives them: admit and run, stop, remove, report, and keep the records
/// and the engine in agreement. <see cref="ContainerRuntime"/> implements it over a container engine.
/// </summary>
/// <remarks>
/// Every failure is a <see cref="RuntimeException"/>. Another owner's deployment is reported exactly like a missing one.
/// Call <see cref="StartAsync"/> once before anything else (again after it failed, e.g. while the engine was down).
/// </remarks>
public interface IDeploymentRuntime : IAsyncDisposable
{
    /// <summary>Why the egress firewall could not be installed the last time it was checked; null when it is in place (or not managed).</summary>
    string? EgressProblem { get; }

    /// <summary>Running deployments by name → the loopback endpoint they answer on; changes are pushed to watchers.</summary>
    RouteTable Routes { get; }

    /// <summary>
    /// Takes the state folder's lock, loads the records, makes sure the project's network exists, and
    /// reconciles: containers matching a record are adopted, records whose container vanished are marked.
    /// Never stops or removes anything. Safe to call again after a failure (for instance while the engine was down).
    /// </summary>
    Task<ReconcileReport> StartAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The same pass as on start, plus removal of labelled containers that have no record and were first
    /// seen at least <see cref="RuntimeOptions.OrphanGracePeriod"/> ago. The daemon calls this periodically.
    /// </summary>
    Task<ReconcileReport> ReconcileAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Admits, records, pulls if needed, creates and starts a deployment. On any failure nothing is left
    /// behind: no container, no record, no reserved capacity.
    /// </summary>
    Task<DeploymentStatus> DeployAsync(DeploymentSpec spec, string owner, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits until a deployment just made serves: its port answers on the container's own address (not the published
    /// loopback port, where the engine's proxy accepts regardless). Ends early when the container stops running; at the
    /// deadline a running container is <see cref="ReadinessOutcome.NotAnswering"/>, with the ports it listens on when
    /// the provider can tell. Nothing is stopped either way.
    /// </summary>
    Task<ReadinessResult> WaitUntilReadyAsync(DeploymentStatus deployed, ReadinessOptions options, CancellationToken cancellationToken = default);

    /// <summary>Stops the container (SIGTERM, then SIGKILL after <see cref="RuntimeOptions.StopTimeout"/>), keeps it for its logs, and frees its capacity.</summary>
    Task<DeploymentStatus> StopAsync(string id, string owner, CancellationToken cancellationToken = default);

    /// <summary>Stops the container if needed, removes it, and forgets the deployment.</summary>
    Task RemoveAsync(string id, string owner, CancellationToken cancellationToken = default);

    /// <summary>State, exit code, restarts, uptime, port, and (when <paramref name="includeUsage"/>) CPU and memory use. Takes about a second with usage: the engine samples CPU twice.</summary>
    Task<DeploymentStatus> GetStatusAsync(string id, string owner, bool includeUsage = true, CancellationToken cancellationToken = default);

    /// <summary>The owner's deployments, oldest first, without usage figures.</summary>
    Task<IReadOnlyList<DeploymentStatus>> ListAsync(string owner, CancellationToken cancellationToken = default);

    /// <summary>Every deployment of every owner, for the provider's own view.</summary>
    Task<IReadOnlyList<DeploymentStatus>> ListAllAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The container's log lines, stdout and stderr kept apart. With <see cref="LogOptions.Follow"/> the
    /// sequence goes on until the container stops or the token is cancelled.
    /// </summary>
    IAsyncEnumerable<ContainerLogLine> StreamLogsAsync(string id, string owner, LogOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces deployment <paramref name="id"/>'s container with one running <paramref name="spec"/> (same name); the
    /// id and the route's name stay. Rolling (the default): the new container starts beside the old one (admission
    /// counts both), the route moves once it is ready, the old one finishes its connections and stops. A new container
    /// that does not become ready or exits is removed (its log kept for <see cref="ReadPreviousLogsAsync"/>), the old
    /// one keeps serving, and the failure is <see cref="RuntimeErrorCode.UpdateFailed"/> with its last lines.
    /// </summary>
    Task<UpdateResult> UpdateAsync(string id, string owner, DeploymentSpec spec, UpdateOptions options, IProgress<PullProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the deployment's custom domains (none: an empty list) without touching its container; the gateways are
    /// told at once when it runs, and a domain taken off is given up there.
    /// </summary>
    Task<DeploymentStatus> SetDomainsAsync(string id, string owner, IReadOnlyList<string> domains, CancellationToken cancellationToken = default);

    /// <summary>An update back to the spec of the revision that served before the current one.</summary>
    Task<UpdateResult> RollbackAsync(string id, string owner, UpdateOptions options, CancellationToken cancellationToken = default);

    /// <summary>The deployment's revisions, oldest first (at most <see cref="RuntimeOptions.RevisionHistory"/>).</summary>
    Task<IReadOnlyList<DeploymentRevision>> GetHistoryAsync(string id, string owner, CancellationToken cancellationToken = default);

    /// <summary>The kept log of the deployment's previous container (replaced by an update, or a failed update's); <see cref="RuntimeErrorCode.NotFound"/> when there is none.</summary>
    IAsyncEnumerable<ContainerLogLine> ReadPreviousLogsAsync(string id, string owner, CancellationToken cancellationToken = default);

    /// <summary>Caps, what admitted deployments hold, what is free, and how many are active. Needs no engine.</summary>
    CapacityReport GetCapacity();

    /// <summary>The owner's volumes: size cap, bytes in use, and the deployments that mount them.</summary>
    Task<IReadOnlyList<Volumes.VolumeInfo>> ListVolumesAsync(string owner, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes one of the owner's volumes and its data, and frees its storage. Refused with
    /// <see cref="RuntimeErrorCode.VolumeInUse"/> while a deployment mounts it; another owner's volume is <see cref="RuntimeErrorCode.NotFound"/>.
    /// </summary>
    Task RemoveVolumeAsync(string owner, string name, CancellationToken cancellationToken = default);
}

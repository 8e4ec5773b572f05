using System.Net;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Logs;

namespace PeerCompute.Runtime.Status;

public enum DeploymentState
{
    /// <summary>Admitted; the image is being pulled or the container created.</summary>
    Pending,
    Running,
    /// <summary>The process exited and the engine is about to start it again.</summary>
    Restarting,
    /// <summary>The process exited and will not be restarted.</summary>
    Exited,
    /// <summary>Stopped by its owner.</summary>
    Stopped,
    /// <summary>The container disappeared (removed outside the runtime, or a deploy was interrupted).</summary>
    Vanished,
}

/// <summary>CPU and memory a running container uses, from the engine's stats.</summary>
public sealed record ResourceUsage(
    double CpuMillicores,
    TimeSpan CpuTime,
    long MemoryBytes,
    long MemoryLimitBytes,
    long Processes);

/// <summary>What a deployment is doing now, as its owner may see it.</summary>
public sealed record DeploymentStatus
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Owner { get; init; }
    public required string Image { get; init; }
    public required string SpecHash { get; init; }
    public required DeploymentState State { get; init; }
    public required int CpuMillicores { get; init; }
    public required long MemoryBytes { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string? ContainerId { get; init; }
    /// <summary>The TCP port inside the container that the deployment serves on.</summary>
    public int ContainerPort { get; init; }
    /// <summary>Port on 127.0.0.1 where the container's port is published, while it runs.</summary>
    public int? HostPort { get; init; }
    /// <summary>The container's own address on the provider's bridge network, while it runs (the engine's proxy on <see cref="HostPort"/> accepts connections even when nothing listens inside; this address does not).</summary>
    public IPAddress? ContainerAddress { get; init; }
    /// <summary>Exit code of the last run when the process is not running.</summary>
    public long? ExitCode { get; init; }
    /// <summary>The last exit was the kernel's out-of-memory killer.</summary>
    public bool OomKilled { get; init; }
    public long RestartCount { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public TimeSpan? Uptime { get; init; }
    public ResourceUsage? Usage { get; init; }
    /// <summary>For a container that is not running: its last log lines, so the cause of an exit is visible.</summary>
    public IReadOnlyList<ContainerLogLine> LastLogLines { get; init; } = [];
    /// <summary>Why the deployment is in its state, when that is not obvious.</summary>
    public string? Reason { get; init; }
    /// <summary>What happens when the process exits.</summary>
    public RestartMode Restart { get; init; }
    /// <summary>The provider's health check, or the image's own HEALTHCHECK; null when it has neither.</summary>
    public HealthReport? Health { get; init; }
    /// <summary>The last exit of the process (also once it runs again), when one was seen.</summary>
    public long? LastExitCode { get; init; }
    public DateTimeOffset? LastExitAt { get; init; }
    /// <summary>When the provider starts a crash-looping container it holds back again; null when it holds none.</summary>
    public DateTimeOffset? NextRestartAt { get; init; }
    /// <summary>Who may open the public URL.</summary>
    public PeerCompute.Core.Access.AccessMode Access { get; init; }
    /// <summary>The app this deployment is a service of (see <see cref="Deployments.DeploymentSpec.App"/>).</summary>
    public string? App { get; init; }
    public string? Service { get; init; }
    /// <summary>Reached by its app's other services only: no loopback port, no public URL.</summary>
    public bool Private { get; init; }
    /// <summary>The custom domains it asks the gateways to serve.</summary>
    public IReadOnlyList<string> Domains { get; init; } = [];
}

public enum HealthState
{
    /// <summary>No check passed yet since the container started.</summary>
    Starting,
    Healthy,
    /// <summary>The check failed its retries in a row.</summary>
    Unhealthy,
}

/// <summary>A deployment's health: the state, which check says it (<c>provider</c> or <c>image</c>), and its last failure.</summary>
public sealed record HealthReport(HealthState State, string Source, DateTimeOffset? LastFailureAt, string? LastFailure);

/// <summary>What a reconcile pass found and did.</summary>
public sealed record ReconcileReport(
    IReadOnlyList<string> Adopted,
    IReadOnlyList<string> Vanished,
    IReadOnlyList<string> Orphans,
    IReadOnlyList<string> OrphansRemoved,
    IReadOnlyList<string> Problems)
{
    /// <summary>
    /// Deployments whose record file was unreadable (set aside) and whose running container was adopted again under a
    /// record rebuilt from its labels: the owner sees and stops them as before.
    /// </summary>
    public IReadOnlyList<string> Recovered { get; init; } = [];

    /// <summary>
    /// Containers whose record was unreadable and could not be rebuilt from their labels: kept (never collected as
    /// orphans) until the provider operator removes them.
    /// </summary>
    public IReadOnlyList<string> Unreadable { get; init; } = [];
}

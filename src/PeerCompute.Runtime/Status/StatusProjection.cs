using System.Net;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Status;

/// <summary>
/// What a deployment's owner sees, from what the provider recorded and what the engine says about the container.
/// Pure: no engine, no clock of its own.
/// </summary>
internal static class StatusProjection
{
    public const string DisappearedReason = "the container disappeared (removed outside the runtime)";

    /// <summary>The status without usage figures and log lines (those take further engine calls: see <see cref="WantsLastLines"/>).</summary>
    /// <param name="container">The engine's facts; null when there is no container (or it was not asked, for a vanished record).</param>
    /// <param name="providerHealth">The provider's own check's view, when the deployment has one.</param>
    public static DeploymentStatus Project(DeploymentRecord record, ContainerFacts? container, DateTimeOffset now, HealthReport? providerHealth = null)
    {
        DeploymentState state;
        string? reason = record.Reason;
        if (record.Phase == RecordPhase.Vanished)
            state = DeploymentState.Vanished;
        else if (record.Phase == RecordPhase.Stopped)
            state = DeploymentState.Stopped;
        else if (container is null)
        {
            state = record.Phase == RecordPhase.Admitted ? DeploymentState.Pending : DeploymentState.Vanished;
            if (state == DeploymentState.Vanished)
                reason ??= DisappearedReason;
        }
        else if (container.Restarting || (record.HeldUntil is not null && !container.Running))
            state = DeploymentState.Restarting;
        else if (container.Running)
            state = DeploymentState.Running;
        else if (record.Phase == RecordPhase.Admitted)
            state = DeploymentState.Pending;
        else
            state = DeploymentState.Exited;

        if (!string.IsNullOrEmpty(container?.Error))
            reason = container.Error;

        DateTimeOffset? startedAt = container?.StartedAt;
        bool running = state == DeploymentState.Running;
        int? hostPort = running && container!.LoopbackPorts.TryGetValue(record.Spec.ContainerPort, out int port) ? port : null;
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
            ContainerPort = record.Spec.ContainerPort,
            HostPort = hostPort,
            ContainerAddress = running ? container!.Address : null,
            ExitCode = container is not null && !running && startedAt is not null ? container.ExitCode : null,
            OomKilled = container?.OomKilled ?? false,
            RestartCount = (container?.RestartCount ?? 0) + record.ProviderRestarts,
            StartedAt = startedAt,
            Uptime = running && startedAt is { } started ? now - started : null,
            Reason = reason,
            Restart = record.Spec.Restart ?? RestartMode.UnlessStopped,
            Health = state != DeploymentState.Running && state != DeploymentState.Restarting ? null
                : providerHealth ?? (container?.Health is { } engine ? EngineHealthReport(engine) : null),
            LastExitCode = record.LastExitAt is not null ? record.LastExitCode : container is { Running: false, FinishedAt: not null } ? container.ExitCode : null,
            LastExitAt = record.LastExitAt ?? (container is { Running: false } ? container.FinishedAt : null),
            NextRestartAt = state == DeploymentState.Restarting ? record.HeldUntil : null,
            Access = record.Spec.Access,
            App = record.Spec.App,
            Domains = record.Spec.Domains ?? [],
            Service = record.Spec.Service,
            Private = record.Spec.Private,
        };
    }

    private static HealthReport EngineHealthReport(EngineHealth health) => new(
        health.Status switch { "healthy" => HealthState.Healthy, "unhealthy" => HealthState.Unhealthy, _ => HealthState.Starting },
        "image", health.LastFailureAt, health.LastFailure);

    /// <summary>A container that is not running, or has restarted, explains itself with its last log lines.</summary>
    public static bool WantsLastLines(DeploymentStatus status, ContainerFacts? container)
        => container is not null && (status.State != DeploymentState.Running || container.RestartCount > 0);

    /// <summary>
    /// Where the public path reaches a deployment while it runs, null otherwise: its published loopback port, never its
    /// bridge address. The engine gives a freed bridge address to the next container at once (a crash loop frees its
    /// address at every exit), so a route to an address could reach another owner's container until the next
    /// reconcile; a published port goes away with its container. Measured, the bridge address was no faster here.
    /// </summary>
    public static IPEndPoint? UpstreamOf(DeploymentStatus status)
        => status.State != DeploymentState.Running ? null
            : status.HostPort is { } port ? new IPEndPoint(IPAddress.Loopback, port)
            : null;

    /// <summary>The same from the engine's listing (a reconcile pass does not inspect each container).</summary>
    public static IPEndPoint? UpstreamOf(DeploymentRecord record, ContainerSummary? container)
        => record.Phase != RecordPhase.Active || container is not { State: ContainerState.Running } ? null
            : container.LoopbackPorts.TryGetValue(record.Spec.ContainerPort, out int port) ? new IPEndPoint(IPAddress.Loopback, port)
            : null;
}

using System.Net;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Health;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Engine;

namespace PeerCompute.Runtime;

/// <summary>Waiting for a deployment to answer (the readiness probe on the container's own address): its HTTP health check when it has one, else a TCP connect.</summary>
public sealed partial class ContainerRuntime
{
    public async Task<ReadinessResult> WaitUntilReadyAsync(DeploymentStatus deployed, ReadinessOptions options, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        return await WaitReadyCoreAsync(Find(deployed.Id, deployed.Owner).Record, deployed, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The readiness wait for <paramref name="record"/>'s container (an update's candidate has a record of its own until it takes over).</summary>
    private async Task<ReadinessResult> WaitReadyCoreAsync(DeploymentRecord record, DeploymentStatus deployed, ReadinessOptions options, CancellationToken cancellationToken)
    {
        if (deployed.State != DeploymentState.Running || record.ContainerId is not { } containerId)
            return new(ReadinessOutcome.NotRunning, deployed, []);
        // The published loopback port is the fallback for an engine that reports no address: it can only say "not yet".
        IPEndPoint? endpoint = deployed.ContainerAddress is { } address ? new IPEndPoint(address, record.Spec.ContainerPort)
            : deployed.HostPort is { } hostPort ? new IPEndPoint(IPAddress.Loopback, hostPort)
            : null;
        if (endpoint is null)
            return new(ReadinessOutcome.NotAnswering, deployed, []);
        ContainerFacts? last = null;
        async Task<bool> StillRunning(CancellationToken token)
        {
            last = await _engine.InspectContainerAsync(containerId, $"inspecting {record.Spec.Name}", token).ConfigureAwait(false);
            // A restart since the deploy is an exit too (the restart policy hides a crash loop behind "running").
            return last is { Running: true, Restarting: false } && last.RestartCount == deployed.RestartCount;
        }
        IReadinessCheck check = record.Spec.Health is { Kind: HealthCheckKind.Http, Path: { } path } ? new HttpHealthCheck(path) : TcpReadinessCheck.Instance;
        var outcome = await ReadinessProbe.WaitAsync(check, endpoint, options, StillRunning, _time, cancellationToken).ConfigureAwait(false);
        // An answer at the container's address proves nothing once the container stopped: the engine gives a freed
        // address to the next container at once, so a crash loop's address may be answered by another deployment.
        if (outcome == ReadinessOutcome.Ready && !await StillRunning(cancellationToken).ConfigureAwait(false))
            outcome = ReadinessOutcome.NotRunning;
        return outcome switch
        {
            ReadinessOutcome.Ready => new(outcome, deployed, []),
            ReadinessOutcome.NotAnswering => new(outcome, StatusProjection.Project(record, last, _time.GetUtcNow()),
                last?.Pid is { } pid ? ListeningPorts.Read(pid) : [], (check as HttpHealthCheck)?.LastFailure),
            _ => new(outcome, await NotRunningStatusAsync(record, containerId, cancellationToken).ConfigureAwait(false), []),
        };
    }

    /// <summary>
    /// The status of a container that exited during the wait, with its last lines: they say why. By the time it is read
    /// the restart policy may have started it again, and a running container's status carries no lines of its own.
    /// </summary>
    private async Task<DeploymentStatus> NotRunningStatusAsync(DeploymentRecord record, string containerId, CancellationToken cancellationToken)
    {
        var status = await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
        return status.LastLogLines.Count > 0 || _options.StatusLogLines <= 0 ? status
            : status with { LastLogLines = await TryTailAsync(containerId, cancellationToken).ConfigureAwait(false) };
    }
}

using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Readiness;

public enum ReadinessOutcome
{
    /// <summary>The check answered.</summary>
    Ready,
    /// <summary>The container stopped running (exited, restarting, removed) before it answered.</summary>
    NotRunning,
    /// <summary>The container runs, but the check did not answer before the deadline.</summary>
    NotAnswering,
}

/// <summary>What waiting for a deployment found.</summary>
/// <param name="Status">The deployment as the wait left it (with last log lines when it stopped).</param>
/// <param name="Listening">
/// For <see cref="ReadinessOutcome.NotAnswering"/>: the TCP ports something inside the container listens on, when the
/// provider can tell (empty when it cannot, or nothing listens).
/// </param>
/// <param name="CheckFailure">For <see cref="ReadinessOutcome.NotAnswering"/> with an HTTP health check: its last answer ("GET /health answered 500 ...").</param>
public sealed record ReadinessResult(ReadinessOutcome Outcome, DeploymentStatus Status, IReadOnlyList<int> Listening, string? CheckFailure = null);

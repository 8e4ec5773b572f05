using System.Net;

namespace PeerCompute.Runtime.Readiness;

/// <summary>
/// One look at whether a deployment serves at an endpoint: a TCP connect (<see cref="TcpReadinessCheck"/>) now; an HTTP
/// request for a path, or the engine's own health status, are further implementations. <see cref="ReadinessProbe"/>
/// repeats it until it answers, the container stops, or the deadline passes.
/// </summary>
public interface IReadinessCheck
{
    /// <summary>What the check looks for, for messages ("nothing answers on port 80" reads "port 80").</summary>
    string Describe(int port);

    /// <summary>One attempt; a refusal or a reset is false, never an exception. Only the caller's cancellation throws.</summary>
    ValueTask<bool> AnswersAsync(IPEndPoint endpoint, CancellationToken cancellationToken);
}

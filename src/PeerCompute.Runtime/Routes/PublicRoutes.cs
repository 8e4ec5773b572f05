using System.Net;

namespace PeerCompute.Runtime.Routes;

/// <summary>
/// What the public path asks of the runtime: where a route answers, and which routes there are. Both read the
/// runtime's <see cref="RouteTable"/>, never the engine, so a public request costs no engine call however many
/// arrive; the table follows deploys, stops, removals and every reconcile pass (adoption at start included).
/// </summary>
public static class PublicRoutes
{
    /// <summary>Where the running deployment named <paramref name="name"/> answers (its bridge address, else its loopback port), or null.</summary>
    public static ValueTask<IPEndPoint?> ResolveAsync(IDeploymentRuntime runtime, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(runtime.Routes.TryGetUpstream(name, out var upstream) ? upstream : null);
    }

    /// <summary>The names of every running deployment, as the gateway should be told them.</summary>
    public static IReadOnlyList<string> Names(IDeploymentRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return [.. runtime.Routes.Snapshot().Keys.Order(StringComparer.Ordinal)];
    }
}

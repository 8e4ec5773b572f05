namespace PeerCompute.Core.Compose;

/// <summary>
/// THE one place that refuses what a Compose file may say but providers cannot run yet. Parsed and validated fully
/// into <see cref="ComposeApp"/>, these parts wait for their runtime: named volumes (<c>--volume NAME:/path[:SIZE]</c>)
/// and health checks (<c>--health-http</c>/<c>--health-tcp</c>). Once a provider can act on one, map it in
/// <see cref="AppRequests.For"/> and delete its refusal here.
/// </summary>
public static class ComposeRuntimeGaps
{
    /// <summary>Throws a <see cref="ComposeException"/> naming the first part of the file that cannot run yet (line and key).</summary>
    public static void Refuse(ComposeApp app, string fileName = "compose.yaml")
    {
        foreach (var service in app.Services)
        {
            if (service.Volumes is [var mount, ..])
                throw new ComposeException($"{fileName}:{mount.Line}: services.{service.Name}.volumes: named volumes are not yet supported by providers");
            if (service.Healthcheck is { Disabled: false } health)
                throw new ComposeException($"{fileName}:{health.Line}: services.{service.Name}.healthcheck: health checks are not yet supported by providers (service_healthy waits for the service's port meanwhile)");
        }
        // A declared volume no service mounts needs nothing from the provider.
    }
}

namespace PeerCompute.Core.Compose;

/// <summary>
/// THE one place that refuses what a Compose file may say but providers cannot run: read-only volume mounts (a
/// provider mounts a volume read-write), and health checks that run a command inside the container (providers check
/// from outside: HTTP or TCP, see <see cref="AppRequests.ProviderCheck"/>). Once a provider can act on one, map it in
/// <see cref="AppRequests.For"/> and delete its refusal here.
/// </summary>
public static class ComposeRuntimeGaps
{
    /// <summary>Throws a <see cref="ComposeException"/> naming the first part of the file that cannot run (line and key).</summary>
    public static void Refuse(ComposeApp app, string fileName = "compose.yaml")
    {
        foreach (var service in app.Services)
        {
            if (service.Volumes.FirstOrDefault(m => m.ReadOnly) is { } readOnly)
                throw new ComposeException($"{fileName}:{readOnly.Line}: services.{service.Name}.volumes: {readOnly.Volume}:{readOnly.Target} is read-only; providers mount volumes read-write only (leave out ro / read_only)");
            if (service.Healthcheck is { Disabled: false } health && AppRequests.ProviderCheck(service, out string reason) is null)
            {
                bool aboutTest = service.Port is not null && health.TestLine > 0;
                throw new ComposeException($"{fileName}:{(aboutTest ? health.TestLine : health.Line)}: services.{service.Name}.healthcheck{(aboutTest ? ".test" : "")}: {reason}");
            }
        }
    }
}

namespace PeerCompute.Core.Compose;

/// <summary>
/// The subset of a Compose file Peer Compute runs, parsed and validated (see <see cref="ComposeParser"/>): every field
/// here was in the file, and nothing in the file is missing from here.
/// </summary>
/// <param name="Name">The file's top-level <c>name</c>; null when it has none.</param>
/// <param name="Services">In the file's order; <see cref="StartOrder"/> gives the order to start them in.</param>
public sealed record ComposeApp(string? Name, IReadOnlyList<ComposeService> Services, IReadOnlyList<ComposeVolume> Volumes)
{
    /// <summary>Every service after the ones it depends on (the file's order among independent ones).</summary>
    public IReadOnlyList<ComposeService> StartOrder()
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<ComposeService>(Services.Count);
        // The parser refused cycles, so every pass places at least one service.
        while (order.Count < Services.Count)
        {
            foreach (var service in Services)
            {
                if (!done.Contains(service.Name) && service.DependsOn.All(d => done.Contains(d.Service)))
                {
                    order.Add(service);
                    done.Add(service.Name);
                }
            }
        }
        return order;
    }
}

/// <summary>One service of a Compose file.</summary>
/// <param name="Command">Replaces the image's command; null keeps it.</param>
/// <param name="Port">The container port the service answers on: published (<see cref="Public"/>, from <c>ports</c>) or reachable by the app's other services only (from <c>expose</c>); null: neither was given.</param>
/// <param name="CpuMillicores">From <c>deploy.resources.limits.cpus</c>; null: the provider's default.</param>
/// <param name="MemoryBytes">From <c>deploy.resources.limits.memory</c>; null: the provider's default.</param>
/// <param name="Line">Where the service is declared, for messages about it.</param>
/// <param name="Restart">From <c>restart</c>: no, on-failure or unless-stopped (<c>always</c> reads as unless-stopped); null: the provider's default.</param>
public sealed record ComposeService(
    string Name,
    string Image,
    IReadOnlyList<string>? Command,
    IReadOnlyDictionary<string, string> Environment,
    int? Port,
    bool Public,
    IReadOnlyList<ComposeMount> Volumes,
    IReadOnlyList<ComposeDependency> DependsOn,
    ComposeHealthcheck? Healthcheck,
    int? CpuMillicores,
    long? MemoryBytes,
    int Line,
    string? Restart = null);

/// <summary>A named volume mounted into a service (<c>NAME:/path[:ro]</c>).</summary>
public sealed record ComposeMount(string Volume, string Target, bool ReadOnly, int Line);

public enum DependencyCondition
{
    /// <summary><c>service_started</c> (and the short list form): the dependency's container runs.</summary>
    Started,
    /// <summary><c>service_healthy</c>: the dependency passes its health check (without one: its port answers).</summary>
    Healthy,
}

public sealed record ComposeDependency(string Service, DependencyCondition Condition, int Line);

/// <summary>A service's <c>healthcheck</c>; <see cref="Test"/> is the command as Compose gives it (<c>CMD</c>/<c>CMD-SHELL</c> form).</summary>
/// <param name="HttpPath">From <c>x-peercompute: {health-http: /path}</c>: the provider's HTTP check, used instead of <see cref="Test"/>.</param>
/// <param name="Tcp">From <c>x-peercompute: {health-tcp: true}</c>: the provider's TCP check, used instead of <see cref="Test"/>.</param>
/// <param name="TestLine">Where <c>test</c> is (0: not given), for messages about it.</param>
public sealed record ComposeHealthcheck(
    IReadOnlyList<string> Test,
    TimeSpan? Interval,
    TimeSpan? Timeout,
    int? Retries,
    TimeSpan? StartPeriod,
    bool Disabled,
    int Line,
    string? HttpPath = null,
    bool Tcp = false,
    int TestLine = 0);

/// <summary>A top-level named volume; <see cref="SizeBytes"/> from <c>x-peercompute: {size: 1GB}</c>, null when not given.</summary>
public sealed record ComposeVolume(string Name, long? SizeBytes, int Line);

/// <summary>A Compose file the subset cannot run, or that is not valid YAML; the message starts with <c>file:line:</c>.</summary>
public sealed class ComposeException(string message) : Exception(message);

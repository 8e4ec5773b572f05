using System.Text.Json.Serialization;
using PeerCompute.Core.Access;

namespace PeerCompute.Runtime.Deployments;

/// <summary>
/// What a peer asked to run. The runtime decides how it is confined; the fields below
/// <see cref="RegistryCredentials"/> exist only so that a request for host access is refused
/// with a reason instead of being silently dropped.
/// </summary>
public sealed record DeploymentSpec
{
    /// <summary>A DNS label (lowercase letters, digits, '-'); also the container's hostname.</summary>
    public required string Name { get; init; }

    /// <summary>Image reference: <c>[registry/]path[:tag][@sha256:digest]</c>.</summary>
    public required string Image { get; init; }

    /// <summary>What <see cref="ContainerPort"/> says to take the image's own port: its one declared (EXPOSE) TCP port, else <see cref="DefaultPort"/>.</summary>
    public const int PortFromImage = 0;

    /// <summary>The port of an image that declares none.</summary>
    public const int DefaultPort = 80;

    /// <summary>
    /// TCP port inside the container, published on 127.0.0.1 at a port the engine picks; <see cref="PortFromImage"/>
    /// asks the runtime to take the image's (a deployment's record always holds the port it resolved to).
    /// </summary>
    public required int ContainerPort { get; init; }

    public required int CpuMillicores { get; init; }

    public required long MemoryBytes { get; init; }

    /// <remarks>Never null: the JSON source generator sets an init-only property it did not find to null, so a
    /// stored record without "environment" would otherwise load with no dictionary at all.</remarks>
    public IReadOnlyDictionary<string, string> Environment { get; init => field = value ?? new Dictionary<string, string>(); } = new Dictionary<string, string>();

    /// <summary>Replaces the image's command; null keeps the image's own.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>Root filesystem read-only (a size-limited tmpfs stays writable at /tmp). Opt out for images that write elsewhere.</summary>
    public bool ReadOnlyRootFilesystem { get; init; } = true;

    /// <summary>Credentials for a private registry, used for this deployment's pull only and never stored.</summary>
    [JsonIgnore]
    public RegistryCredentials? RegistryCredentials { get; init; }

    /// <summary>Who may open the deployment's public URL (<c>--access</c>); public by default.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<AccessMode>))]
    public AccessMode Access { get; init; }

    /// <summary>The user name of a <see cref="AccessMode.Basic"/> deployment.</summary>
    public string? BasicUser { get; init; }

    /// <summary>The <see cref="PasswordHash"/> of a <see cref="AccessMode.Basic"/> deployment's password (never the password).</summary>
    public string? BasicPasswordHash { get; init; }

    // Requests the runtime always refuses.
    public bool Privileged { get; init; }
    /// <summary>Bind mounts or volumes.</summary>
    public IReadOnlyList<string>? Volumes { get; init; }
    public IReadOnlyList<string>? Devices { get; init; }
    public IReadOnlyList<string>? CapAdd { get; init; }
    public IReadOnlyList<string>? SecurityOptions { get; init; }
    public bool HostNetwork { get; init; }
    public bool HostPid { get; init; }
    public bool HostIpc { get; init; }
    public bool HostUts { get; init; }

    /// <summary>The provider's own health check of the deployment; null: none (an image's own HEALTHCHECK still runs, in the engine).</summary>
    public HealthCheckSpec? Health { get; init; }

    /// <summary>What happens when the process exits; null: the provider's default (unless-stopped).</summary>
    public RestartMode? Restart { get; init; }
    /// <summary>Named volumes of the owner (never host paths), created on first use; null or empty: none.</summary>
    public IReadOnlyList<VolumeMount>? VolumeMounts { get; init; }

    /// <summary>
    /// The app (from a Compose file) this deployment is a service of: the app's services share a network of their own
    /// (per owner and app), where each is reached by its <see cref="Service"/> name. Null: the provider's shared bridge.
    /// </summary>
    public string? App { get; init; }

    /// <summary>The service's name inside its <see cref="App"/> (its network alias there); set exactly when <see cref="App"/> is.</summary>
    public string? Service { get; init; }

    /// <summary>The port is for the app's other services only: not published on the provider's loopback, no public URL.</summary>
    public bool Private { get; init; }

    /// <summary>Custom domains (<c>--domain</c>) the gateway serves this deployment at once each one's DNS points at its hostname.</summary>
    public IReadOnlyList<string>? Domains { get; init; }

    /// <summary>Custom domains one deployment may have (what one route carries to a gateway).</summary>
    public const int MaxDomains = PeerCompute.Core.Protocol.CustomDomain.MaxPerDeployment;
}

/// <summary>Registry login for one pull.</summary>
public sealed record RegistryCredentials(string Username, string Password)
{
    /// <summary>Registry host; null means the registry named in the image reference.</summary>
    public string? ServerAddress { get; init; }

    // Keep the password out of logs and exception messages.
    public override string ToString() => $"RegistryCredentials {{ Username = {Username}, ServerAddress = {ServerAddress} }}";
}

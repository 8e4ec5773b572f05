using PeerCompute.Core.Access;
using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Deployments;

/// <summary>
/// Pure checks of a request against the runtime's rules: shape and ranges first, then the
/// isolation the runtime never relaxes. Capacity (what is free right now) is admission's job.
/// </summary>
internal static class DeploymentSpecValidator
{
    public const int MaxNameLength = 63;

    /// <summary>Throws <see cref="RuntimeErrorCode.InvalidSpec"/> naming the first offending field.</summary>
    public static ImageReference Validate(DeploymentSpec spec, RuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        RefuseHostAccess(spec);

        if (!IsDnsLabel(spec.Name))
            throw Invalid($"name: '{Shorten(spec.Name)}' must be 1-{MaxNameLength} lowercase letters, digits or '-', not starting or ending with '-'");
        if (spec.App is not null && !IsDnsLabel(spec.App))
            throw Invalid($"app: '{Shorten(spec.App)}' must be 1-{MaxNameLength} lowercase letters, digits or '-', not starting or ending with '-'");
        if (spec.Service is not null && !IsDnsLabel(spec.Service))
            throw Invalid($"service: '{Shorten(spec.Service)}' must be 1-{MaxNameLength} lowercase letters, digits or '-', not starting or ending with '-'");
        if ((spec.App is null) != (spec.Service is null))
            throw Invalid("app and service: give both (a service of an app) or neither");
        if (spec.Private && spec.App is null)
            throw Invalid("private: only a service of an app can be private (its app's other services are the only ones that reach it)");

        if (!ImageReference.TryParse(spec.Image, out var image, out string? imageError))
            throw Invalid(imageError);

        if (spec.ContainerPort != DeploymentSpec.PortFromImage && spec.ContainerPort is < 1 or > 65535)
            throw Invalid($"container port: {spec.ContainerPort} is not in 1-65535");

        if (spec.CpuMillicores < options.MinCpuMillicores)
            throw Invalid($"cpu: {spec.CpuMillicores}m is below the minimum of {options.MinCpuMillicores}m");
        if (spec.CpuMillicores > options.MaxCpuMillicores)
            throw Invalid($"cpu: {spec.CpuMillicores}m is more than this provider's whole max-cpu of {options.MaxCpuMillicores}m");

        if (spec.MemoryBytes < options.MinMemoryBytes)
            throw Invalid($"memory: {Bytes(spec.MemoryBytes)} is below the minimum of {Bytes(options.MinMemoryBytes)}");
        if (spec.MemoryBytes > options.MaxMemoryBytes)
            throw Invalid($"memory: {Bytes(spec.MemoryBytes)} is more than this provider's whole max-memory of {Bytes(options.MaxMemoryBytes)}");

        ValidateEnvironment(spec.Environment, options);
        ValidateCommand(spec.Command, options);
        if (spec.Health is { } health)
            ValidateHealth(health);
        if (spec.Restart is { } restart && !Enum.IsDefined(restart))
            throw Invalid($"restart: {(int)restart} is not one of no, on-failure, unless-stopped");

        ValidateVolumes(spec.VolumeMounts, options);

        if (spec.RegistryCredentials is { } credentials && (string.IsNullOrEmpty(credentials.Username) || credentials.Password is null))
            throw Invalid("registry credentials: username and password are both required");

        ValidateAccess(spec);
        ValidateDomains(spec);

        return image;
    }

    private static void ValidateHealth(HealthCheckSpec health)
    {
        if (!Enum.IsDefined(health.Kind))
            throw Invalid($"health check: kind {(int)health.Kind} is neither http nor tcp");
        if (health.Kind == HealthCheckKind.Http)
        {
            if (health.Path is not { Length: > 0 } path || path[0] != '/' || path.Length > HealthCheckSpec.MaxPathLength
                || path.Any(c => c <= ' ' || c == 0x7f || c == '#'))
                throw Invalid($"health check path: '{Shorten(health.Path ?? "")}' must start with '/', have no spaces, control characters or '#', and be at most {HealthCheckSpec.MaxPathLength} characters");
        }
        else if (health.Path is not null)
            throw Invalid("health check: a TCP check takes no path");
        if (health.Interval < HealthCheckSpec.MinInterval || health.Interval > HealthCheckSpec.MaxInterval)
            throw Invalid($"health check interval: {health.Interval.TotalSeconds:0.###} s is not within {HealthCheckSpec.MinInterval.TotalSeconds:0} s to {HealthCheckSpec.MaxInterval.TotalHours:0} h");
        if (health.Timeout < HealthCheckSpec.MinTimeout || health.Timeout > health.Interval)
            throw Invalid($"health check timeout: {health.Timeout.TotalSeconds:0.###} s is not within {HealthCheckSpec.MinTimeout.TotalSeconds:0.#} s and the interval ({health.Interval.TotalSeconds:0.###} s)");
        if (health.Retries is < 1 or > HealthCheckSpec.MaxRetries)
            throw Invalid($"health check retries: {health.Retries} is not within 1-{HealthCheckSpec.MaxRetries}");
        if (health.StartPeriod < TimeSpan.Zero || health.StartPeriod > HealthCheckSpec.MaxStartPeriod)
            throw Invalid($"health check start period: {health.StartPeriod.TotalSeconds:0.###} s is not within 0 s to {HealthCheckSpec.MaxStartPeriod.TotalHours:0} h");
    }

    private static void ValidateDomains(DeploymentSpec spec)
    {
        if (spec.Domains is not { } domains)
            return;
        if (domains.Count > DeploymentSpec.MaxDomains)
            throw Invalid($"domains: {domains.Count} given; at most {DeploymentSpec.MaxDomains} per deployment");
        if (domains.Count > 0 && spec.Private)
            throw Invalid("domains: a private service of an app has no public URL, so no custom domain");
        foreach (string domain in domains)
            if (!PeerCompute.Core.Protocol.CustomDomain.IsValid(domain))
                throw Invalid($"domain '{domain}': not a fully qualified domain name in lower case (labels of a-z, 0-9 and '-', at least one dot, no trailing dot)");
    }

    private static void ValidateAccess(DeploymentSpec spec)
    {
        switch (spec.Access)
        {
            case AccessMode.Public or AccessMode.Private:
                if (spec.BasicUser is not null || spec.BasicPasswordHash is not null)
                    throw Invalid($"access: a basic user and password hash belong to --access basic, not {spec.Access.ToText()}");
                break;
            case AccessMode.Basic:
                if (!RouteAccess.IsValidBasicUser(spec.BasicUser))
                    throw Invalid($"basic user: 1-{RouteAccess.MaxBasicUserLength} printable characters without ':' or spaces");
                if (!PasswordHash.TryParse(spec.BasicPasswordHash, out _, out string? problem))
                    throw Invalid($"basic password hash: {problem}");
                break;
            default:
                throw Invalid($"access: unknown mode {(byte)spec.Access}; public, private or basic");
        }
    }

    private static void RefuseHostAccess(DeploymentSpec spec)
    {
        if (spec.Privileged)
            throw Invalid("privileged: privileged containers are never allowed");
        if (spec.Volumes is { Count: > 0 })
            throw Invalid("volumes: host paths and engine volumes are not allowed; use a named volume of your own (--volume NAME:/path[:SIZE])");
        if (spec.Devices is { Count: > 0 })
            throw Invalid("devices: host devices are not allowed");
        if (spec.CapAdd is { Count: > 0 })
            throw Invalid($"cap-add: adding capabilities ({string.Join(", ", spec.CapAdd)}) is not allowed; every capability is dropped");
        if (spec.SecurityOptions is { Count: > 0 })
            throw Invalid($"security options ({string.Join(", ", spec.SecurityOptions)}) cannot be set; the provider's profile applies");
        if (spec.HostNetwork)
            throw Invalid("network: the host network namespace is not allowed");
        if (spec.HostPid)
            throw Invalid("pid: the host PID namespace is not allowed");
        if (spec.HostIpc)
            throw Invalid("ipc: the host IPC namespace is not allowed");
        if (spec.HostUts)
            throw Invalid("uts: the host UTS namespace is not allowed");
    }

    private static void ValidateEnvironment(IReadOnlyDictionary<string, string>? environment, RuntimeOptions options)
    {
        if (environment is null)
            return;
        if (environment.Count > options.MaxEnvironmentVariables)
            throw Invalid($"environment: {environment.Count} variables, at most {options.MaxEnvironmentVariables}");
        long total = 0;
        foreach (var (name, value) in environment)
        {
            if (!IsEnvironmentName(name))
                throw Invalid($"environment: '{Shorten(name)}' is not a variable name (letters, digits, '_', not starting with a digit)");
            if (value is null || value.Contains('\0'))
                throw Invalid($"environment: value of {name} is missing or holds a NUL character");
            total += name.Length + 1 + System.Text.Encoding.UTF8.GetByteCount(value);
        }
        if (total > options.MaxEnvironmentBytes)
            throw Invalid($"environment: {total} bytes in all, at most {options.MaxEnvironmentBytes}");
    }

    /// <summary>Paths the container's own setup owns: a volume there would hide or replace it.</summary>
    private static readonly string[] s_reservedPaths = ["/proc", "/sys", "/dev", "/tmp", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

    private static void ValidateVolumes(IReadOnlyList<VolumeMount>? volumes, RuntimeOptions options)
    {
        if (volumes is null)
            return;
        if (volumes.Count > options.MaxVolumesPerDeployment)
            throw Invalid($"volumes: {volumes.Count} volumes, at most {options.MaxVolumesPerDeployment}");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var volume in volumes)
        {
            if (volume is null)
                throw Invalid("volumes: a volume is missing");
            if (!VolumeMount.IsName(volume.Name))
                throw Invalid($"volume: '{Shorten(volume.Name)}' is not a volume name (1-{VolumeMount.MaxNameLength} lowercase letters, digits, '-' or '_'); host paths are never mounted");
            if (!names.Add(volume.Name))
                throw Invalid($"volume: {volume.Name} is mounted twice");
            string path = volume.Path ?? "";
            if (!path.StartsWith('/') || path == "/" || path.Contains('\0') || path.Contains(':') || path.Length > 4096
                || path.Split('/').Any(part => part is "." or ".."))
                throw Invalid($"volume: the path '{Shorten(path)}' of {volume.Name} must be an absolute path inside the container (not /, no '.' or '..' parts)");
            path = path.TrimEnd('/');
            if (s_reservedPaths.Any(r => path == r || path.StartsWith(r + "/", StringComparison.Ordinal)))
                throw Invalid($"volume: {volume.Name} cannot be mounted at {path}; {string.Join(", ", s_reservedPaths)} belong to the container's own setup");
            if (paths.Any(p => p == path || p.StartsWith(path + "/", StringComparison.Ordinal) || path.StartsWith(p + "/", StringComparison.Ordinal)))
                throw Invalid($"volume: {volume.Name} at {path} overlaps another volume's path");
            paths.Add(path);
            if (volume.SizeBytes is { } size)
            {
                if (size < options.MinVolumeBytes)
                    throw Invalid($"volume: {volume.Name}'s size {Bytes(size)} is below the minimum of {Bytes(options.MinVolumeBytes)}");
                if (size > options.MaxStorageBytes)
                    throw Invalid($"volume: {volume.Name}'s size {Bytes(size)} is more than this provider's whole max-storage of {Bytes(options.MaxStorageBytes)}");
            }
        }
    }

    private static void ValidateCommand(IReadOnlyList<string>? command, RuntimeOptions options)
    {
        if (command is null)
            return;
        if (command.Count == 0)
            throw Invalid("command: empty (leave it out to keep the image's command)");
        if (command.Count > options.MaxCommandArguments)
            throw Invalid($"command: {command.Count} arguments, at most {options.MaxCommandArguments}");
        long total = 0;
        foreach (string argument in command)
        {
            if (argument is null || argument.Contains('\0'))
                throw Invalid("command: an argument is missing or holds a NUL character");
            total += System.Text.Encoding.UTF8.GetByteCount(argument) + 1;
        }
        if (total > options.MaxCommandBytes)
            throw Invalid($"command: {total} bytes in all, at most {options.MaxCommandBytes}");
    }

    internal static bool IsDnsLabel(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > MaxNameLength || s[0] == '-' || s[^1] == '-')
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'z') && c != '-')
                return false;
        }
        return true;
    }

    private static bool IsEnvironmentName(string? s)
    {
        if (string.IsNullOrEmpty(s) || char.IsAsciiDigit(s[0]) || s.Length > 256)
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                return false;
        }
        return true;
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= RuntimeOptions.GiB when bytes % RuntimeOptions.GiB == 0 => $"{bytes / RuntimeOptions.GiB} GiB",
        >= RuntimeOptions.MiB => $"{bytes / (double)RuntimeOptions.MiB:0.#} MiB",
        _ => $"{bytes} bytes",
    };

    private static string Shorten(string? s) => s is null ? "" : s.Length <= 64 ? s : s[..64] + "…";

    private static RuntimeException Invalid(string message) => new(RuntimeErrorCode.InvalidSpec, message);
}

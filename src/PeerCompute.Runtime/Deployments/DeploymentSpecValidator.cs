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

        if (spec.RegistryCredentials is { } credentials && (string.IsNullOrEmpty(credentials.Username) || credentials.Password is null))
            throw Invalid("registry credentials: username and password are both required");

        return image;
    }

    private static void RefuseHostAccess(DeploymentSpec spec)
    {
        if (spec.Privileged)
            throw Invalid("privileged: privileged containers are never allowed");
        if (spec.Volumes is { Count: > 0 })
            throw Invalid("volumes: host mounts and volumes are not allowed");
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

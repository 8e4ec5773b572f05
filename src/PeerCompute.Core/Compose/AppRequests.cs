using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Compose;

/// <summary>
/// How a Compose app becomes deployments: one per service, named <c>APP-SERVICE</c>, marked with the app and the
/// service (so the provider puts them on the app's own network, where the service name reaches it), in dependency
/// order. A service with <c>ports</c> is public (its own URL); the others are reached by the app's services only.
/// A named volume is the owner's volume <c>APP-VOLUME</c> (volumes are per owner, not per app: the prefix keeps two apps'
/// <c>data</c> apart), sized by its <c>x-peercompute.size</c>. A health check is the provider's own (HTTP or TCP from
/// outside the container, see <see cref="ProviderCheck"/>), and each service's deploy waits for it, so a dependent starts
/// after its <c>service_healthy</c> dependency passes.
/// </summary>
public static class AppRequests
{
    /// <summary>The app's name: the one given, else the file's <c>name</c>, else the file's folder.</summary>
    public static string NameFor(ComposeApp app, string? given, string filePath)
    {
        string name = given ?? app.Name ?? FolderName(filePath);
        if (!IsDnsLabel(name))
            throw new ComposeException($"app name '{name}' must be a DNS label (lowercase letters, digits and '-', at most 63); give one with --name");
        return name;
    }

    /// <summary>The deployment name of a service: <c>APP-SERVICE</c>.</summary>
    public static string DeploymentName(string app, string service) => $"{app}-{service}";

    /// <summary>The owner's volume an app's volume is: <c>APP-VOLUME</c>.</summary>
    public static string VolumeName(string app, string volume) => $"{app}-{volume}";

    /// <summary>Longest volume name a provider takes.</summary>
    public const int MaxVolumeNameLength = 63;

    /// <summary>
    /// The provider's check a healthcheck becomes: <c>x-peercompute: {health-http: /path}</c> or <c>{health-tcp: true}</c>;
    /// else a <c>test</c> that only fetches a URL of the service's own port on localhost (<c>curl</c>/<c>wget</c>, optionally
    /// <c>|| exit 1</c>) is that HTTP check, and <c>nc -z localhost PORT</c> the TCP check. Providers run no command inside
    /// a container (images like busybox have neither curl nor a shell to run it with), so other tests have no check:
    /// null, with <paramref name="reason"/>.
    /// </summary>
    public static (string? HttpPath, bool Tcp)? ProviderCheck(ComposeService service, out string reason)
    {
        reason = "";
        if (service.Healthcheck is not { Disabled: false } health)
            return (null, false);
        if (service.Port is not { } port)
        {
            reason = "a health check needs the service's port (ports or expose): providers check it from outside the container";
            return null;
        }
        if (health.HttpPath is not null || health.Tcp)
            return (health.HttpPath, health.Tcp);
        var words = health.Test[0] == "CMD-SHELL" ? health.Test[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : health.Test.Skip(1).ToArray();
        if (words is [.. var command, "||", "exit", "1"])
            words = command;
        string program = words.Length == 0 ? "" : Path.GetFileName(words[0]);
        if (words.Any(w => w is "|" or "||" or "&&" or ";" || w.Contains('`') || w.Contains("$(", StringComparison.Ordinal)))
            program = "";
        if (program is "curl" or "wget" && words.Count(w => w.Contains("://", StringComparison.Ordinal)) == 1)
        {
            string url = words.Single(w => w.Contains("://", StringComparison.Ordinal)).Trim('\'', '"');
            if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == "http" && uri.Host is "localhost" or "127.0.0.1" && uri.Port == port
                && words.Skip(1).All(w => w == url || w.Trim('\'', '"') == url || w.StartsWith('-')))
                return (uri.PathAndQuery, false);
        }
        if (program == "nc" && words is [_, "-z", "localhost" or "127.0.0.1", var p] && p == port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            return (null, true);
        reason = $"'{string.Join(' ', health.Test.Skip(1))}' runs inside the container, which providers do not do; "
            + "give the provider's check instead: x-peercompute: {health-http: /path} or {health-tcp: true} (a curl or wget of http://localhost:" + port + "/path maps to it)";
        return null;
    }

    /// <summary>One deploy request per service, in start order (timestamps and nonces are set when each is sent).</summary>
    /// <remarks>Call <see cref="ComposeRuntimeGaps.Refuse"/> first: it names what cannot run with its line.</remarks>
    public static IReadOnlyList<DeployRequest> For(ComposeApp app, string appName)
    {
        var requests = new List<DeployRequest>(app.Services.Count);
        var sizes = app.Volumes.ToDictionary(v => v.Name, v => v.SizeBytes, StringComparer.Ordinal);
        foreach (var service in app.StartOrder())
        {
            string name = DeploymentName(appName, service.Name);
            if (!IsDnsLabel(name))
                throw new ComposeException($"deployment name '{name}' (app-service) is longer than 63 characters; choose a shorter app name with --name");
            var volumes = new List<string>(service.Volumes.Count);
            foreach (var mount in service.Volumes)
            {
                string volume = VolumeName(appName, mount.Volume);
                if (volume.Length > MaxVolumeNameLength)
                    throw new ComposeException($"volume name '{volume}' (app-volume) is longer than {MaxVolumeNameLength} characters; choose a shorter app name with --name");
                volumes.Add(sizes.GetValueOrDefault(mount.Volume) is { } size ? $"{volume}:{mount.Target}:{size}" : $"{volume}:{mount.Target}");
            }
            var check = ProviderCheck(service, out string reason) ?? throw new ComposeException($"services.{service.Name}.healthcheck: {reason}");
            var health = service.Healthcheck is { Disabled: false } h ? h : null;
            requests.Add(new DeployRequest(
                service.Image,
                Timestamp: 0,
                Nonce: "",
                Name: name,
                CpuMillicores: service.CpuMillicores ?? DeployRequest.DefaultCpuMillicores,
                MemoryBytes: service.MemoryBytes ?? DeployRequest.DefaultMemoryBytes,
                Port: service.Port,
                Env: service.Environment,
                Command: service.Command,
                // A service without a port of its own has nothing to wait for: it counts as started once it runs.
                NoWait: service.Port is null,
                App: appName,
                Service: service.Name,
                Private: !service.Public,
                HealthHttp: check.HttpPath,
                HealthTcp: check.Tcp,
                HealthIntervalMs: Milliseconds(health?.Interval),
                HealthTimeoutMs: Milliseconds(health?.Timeout),
                HealthRetries: health?.Retries,
                HealthStartPeriodMs: Milliseconds(health?.StartPeriod),
                Restart: service.Restart,
                Volumes: volumes.Count == 0 ? null : volumes));
        }
        return requests;
    }

    private static long? Milliseconds(TimeSpan? value) => value is { } v ? (long)v.TotalMilliseconds : null;

    private static string FolderName(string filePath)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(filePath));
        string name = folder is null ? "" : Path.GetFileName(folder);
        var cleaned = new string([.. name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');
        return cleaned.Length == 0 ? "app" : cleaned;
    }

    private static bool IsDnsLabel(string s)
        => s.Length is > 0 and <= 63 && s[0] != '-' && s[^1] != '-' && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}

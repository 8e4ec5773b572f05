using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Compose;

/// <summary>
/// How a Compose app becomes deployments: one per service, named <c>APP-SERVICE</c>, marked with the app and the
/// service (so the provider puts them on the app's own network, where the service name reaches it), in dependency
/// order. A service with <c>ports</c> is public (its own URL); the others are reached by the app's services only.
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

    /// <summary>One deploy request per service, in start order (timestamps and nonces are set when each is sent).</summary>
    public static IReadOnlyList<DeployRequest> For(ComposeApp app, string appName)
    {
        var requests = new List<DeployRequest>(app.Services.Count);
        foreach (var service in app.StartOrder())
        {
            string name = DeploymentName(appName, service.Name);
            if (!IsDnsLabel(name))
                throw new ComposeException($"deployment name '{name}' (app-service) is longer than 63 characters; choose a shorter app name with --name");
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
                Private: !service.Public));
        }
        return requests;
    }

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

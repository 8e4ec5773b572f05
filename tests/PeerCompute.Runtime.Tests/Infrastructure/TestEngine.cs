using System.Text.Json;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// The one place that prepares the Docker engine for the tests: starts dockerd and builds the test
/// images through the CI scripts, and sweeps what tests left behind (by label).
/// </summary>
internal static class TestEngine
{
    public const string BusyboxImage = "peercompute-test/busybox:latest";
    public const string NetworkName = "pctest0";
    public const string InstancePrefix = "test-";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static bool _ready;

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static async Task EnsureReadyAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_ready)
                return;
            await StartDockerdAsync();
            (await Cli.RunAsync("bash", [Path.Combine(RepositoryRoot, "build/ci/test-images.sh")], TimeSpan.FromMinutes(3))).EnsureSuccess("build/ci/test-images.sh");
            await SweepAsync();
            _ready = true;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task StartDockerdAsync()
        => (await Cli.RunAsync("bash", [Path.Combine(RepositoryRoot, "build/ci/start-dockerd.sh")], TimeSpan.FromMinutes(5))).EnsureSuccess("build/ci/start-dockerd.sh");

    /// <summary>Stops dockerd (SIGTERM, as a service manager would) and waits until it has exited.</summary>
    public static async Task StopDockerdAsync()
    {
        string pid = (await File.ReadAllTextAsync("/var/run/docker.pid")).Trim();
        (await Cli.RunAsync("kill", ["-TERM", pid])).EnsureSuccess("kill dockerd");
        await Eventually.WaitAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), "dockerd to exit", TimeSpan.FromSeconds(60));
    }

    /// <summary>Removes every container a test runtime created (instance label starting with "test-").</summary>
    public static async Task SweepAsync()
    {
        var list = await Cli.DockerAsync("ps", "-a", "--filter", "label=io.peercompute.managed=true", "--format", "{{.ID}} {{.Label \"io.peercompute.instance\"}}");
        var ids = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .Where(parts => parts.Length == 2 && parts[1].StartsWith(InstancePrefix, StringComparison.Ordinal))
            .Select(parts => parts[0])
            .ToArray();
        if (ids.Length > 0)
            await Cli.DockerAsync(["rm", "-f", .. ids]);
    }

    public static async Task RemoveContainersOfInstanceAsync(string instance)
    {
        var list = await Cli.DockerAsync("ps", "-aq", "--filter", $"label=io.peercompute.instance={instance}");
        var ids = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
            await Cli.DockerAsync(["rm", "-f", .. ids]);
    }

    public static async Task<JsonElement> InspectAsync(string containerId)
    {
        var result = (await Cli.DockerAsync("inspect", containerId)).EnsureSuccess("docker inspect");
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement[0].Clone();
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PeerCompute.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException("cannot find the repository root (PeerCompute.slnx) above " + AppContext.BaseDirectory);
    }
}

public static class SessionHooks
{
    [After(TestSession)]
    public static async Task CleanUpAsync()
    {
        try
        {
            await TestEngine.SweepAsync();
            await Cli.DockerAsync("network", "rm", TestEngine.NetworkName);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // No engine: nothing to clean.
        }
    }
}

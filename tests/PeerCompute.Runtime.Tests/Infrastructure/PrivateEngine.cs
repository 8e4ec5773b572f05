using System.Diagnostics;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// A dockerd of the test's own (own socket, data root, exec root, containerd and default bridge; no
/// iptables), so a test can stop and restart the engine without touching the shared one other tests use.
/// </summary>
/// <remarks>
/// Never <c>--bridge none</c>: a dockerd started that way deletes the host's docker0, breaking the shared engine.
/// </remarks>
internal sealed class PrivateEngine : IAsyncDisposable
{
    private readonly string _folder;
    private Process? _dockerd;

    private readonly string? _namespace;

    private PrivateEngine(string folder, string? netns)
    {
        _folder = folder;
        _namespace = netns;
    }

    public string Socket => Path.Combine(_folder, "docker.sock");
    public string Endpoint => "unix://" + Socket;
    public bool IsRunning => _dockerd is { HasExited: false };

    /// <summary>Bridge names are host-wide: one of the engine's own, named after its folder.</summary>
    public string NetworkName => "pco" + Path.GetFileName(_folder)[^8..];

    /// <summary>The engine's default bridge, made by the test instead of docker0.</summary>
    private string DefaultBridge => "pcb" + Path.GetFileName(_folder)[^8..];

    /// <summary>
    /// Starts the engine; with <paramref name="netns"/> (a namespace the test made) it runs inside it with iptables
    /// on, managing that namespace's own tables and docker0 instead of the host's.
    /// </summary>
    public static async Task<PrivateEngine> StartAsync(string? netns = null)
    {
        await TestEngine.EnsureReadyAsync();
        // Short path: unix socket paths are limited to 108 bytes.
        var engine = new PrivateEngine(Path.Combine("/tmp", "pcd-" + Guid.NewGuid().ToString("N")[..8]), netns);
        Directory.CreateDirectory(engine._folder);
        try
        {
            if (netns is null)
                (await Cli.RunAsync("ip", ["link", "add", "name", engine.DefaultBridge, "type", "bridge"])).EnsureSuccess("creating the private engine's bridge");
            await engine.StartDockerdAsync();
            // The private engine has no images: hand it the test image without any registry.
            var load = await Cli.RunAsync("bash", ["-c", $"docker save {TestEngine.BusyboxImage} | docker -H {engine.Endpoint} load"], TimeSpan.FromMinutes(2));
            load.EnsureSuccess("loading the test image into the private engine");
            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    public async Task StartDockerdAsync()
    {
        // In a namespace, nsenter execs dockerd in place (signals reach it); not `ip netns exec`, whose fresh /sys hides the cgroups.
        var info = new ProcessStartInfo(_namespace is null ? "dockerd" : "nsenter")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments = _namespace is null
            ? ["dockerd", "--bridge", DefaultBridge, "--iptables=false", "--ip6tables=false"]
            : [$"--net=/run/netns/{_namespace}", "dockerd", "--iptables=true", "--ip6tables=false"];
        foreach (string argument in arguments.Skip(_namespace is null ? 1 : 0).Concat(
        [
            "-H", Endpoint, "--data-root", Path.Combine(_folder, "data"), "--exec-root", Path.Combine(_folder, "exec"),
            "--pidfile", Path.Combine(_folder, "docker.pid"),
        ]))
        {
            info.ArgumentList.Add(argument);
        }
        var log = File.AppendText(Path.Combine(_folder, "dockerd.log"));
        _dockerd = Process.Start(info) ?? throw new InvalidOperationException("could not start dockerd");
        _dockerd.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _dockerd.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _dockerd.BeginOutputReadLine();
        _dockerd.BeginErrorReadLine();
        _dockerd.Exited += (_, _) => { lock (log) log.Dispose(); };
        _dockerd.EnableRaisingEvents = true;
        await Eventually.WaitAsync(async () =>
        {
            if (_dockerd.HasExited)
                throw new InvalidOperationException($"private dockerd exited with {_dockerd.ExitCode}; see {_folder}/dockerd.log");
            return (await Cli.RunAsync("docker", ["-H", Endpoint, "info"])).ExitCode == 0;
        }, "the private dockerd to answer", TimeSpan.FromSeconds(90));
    }

    /// <summary>SIGTERM, as a service manager stops it; waits until it has exited.</summary>
    public async Task StopDockerdAsync()
    {
        if (_dockerd is not { HasExited: false } dockerd)
            return;
        (await Cli.RunAsync("kill", ["-TERM", dockerd.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])).EnsureSuccess("kill dockerd");
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await dockerd.WaitForExitAsync(guard.Token);
        dockerd.Dispose();
        _dockerd = null;
    }

    public Task<Cli.Result> DockerAsync(params string[] arguments) => Cli.RunAsync("docker", ["-H", Endpoint, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        if (IsRunning)
        {
            var ids = (await DockerAsync("ps", "-aq")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (ids.Length > 0)
                await DockerAsync(["rm", "-f", .. ids]);
            // Removing the networks takes their bridge interfaces off the host too.
            await DockerAsync("network", "prune", "-f");
            await StopDockerdAsync();
        }
        if (_namespace is null)
            await Cli.RunAsync("ip", ["link", "delete", DefaultBridge]);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A mount the engine left behind; the folder is under /tmp and named for the run.
        }
    }
}

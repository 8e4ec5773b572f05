using System.Diagnostics;

namespace PeerCompute.Testing;

/// <summary>How to run a <see cref="PrivateDockerd"/>.</summary>
public sealed record PrivateDockerdOptions
{
    /// <summary>A command prefix that runs dockerd elsewhere, e.g. <c>nsenter --net=/run/netns/NS --</c> (it must exec dockerd, so signals reach it).</summary>
    public IReadOnlyList<string> Wrapper { get; init; } = [];

    /// <summary>
    /// A default bridge made by the test instead of docker0 (bridge names are host-wide). Needed outside a namespace:
    /// never <c>--bridge none</c>, which makes dockerd delete the host's docker0 and breaks the shared engine.
    /// </summary>
    public bool OwnBridge { get; init; }

    /// <summary>Whether dockerd manages iptables (only inside a namespace of the test's own: those tables are the namespace's).</summary>
    public bool Iptables { get; init; }

    /// <summary>An image of the shared engine handed to this one with docker save | load (it has no registry).</summary>
    public string? Image { get; init; }

    /// <summary>The engine's data root (images, containers' layers); null: a folder inside the engine's own. A <see cref="LoopFilesystem"/> gives it a filesystem of its own.</summary>
    public string? DataRoot { get; init; }

    /// <summary>The storage driver (<c>--storage-driver</c>); null: the engine picks one for its data root.</summary>
    public string? StorageDriver { get; init; }

    /// <summary>More dockerd options, e.g. <c>--userns-remap default</c>.</summary>
    public IReadOnlyList<string> DaemonArguments { get; init; } = [];

    /// <summary>Names the folder under /tmp (short: unix socket paths are limited to 108 bytes).</summary>
    public string FolderPrefix { get; init; } = "pcd-";
}

/// <summary>
/// A dockerd of the test's own (own socket, data root, exec root, pidfile, and bridge or network namespace), so a
/// test can stop and restart the engine without touching the shared one other tests use.
/// </summary>
public sealed class PrivateDockerd : IAsyncDisposable
{
    private readonly string _folder;
    private readonly PrivateDockerdOptions _options;
    private Process? _dockerd;

    private PrivateDockerd(string folder, PrivateDockerdOptions options)
    {
        _folder = folder;
        _options = options;
    }

    public string Socket => Path.Combine(_folder, "docker.sock");

    /// <summary>unix:// endpoint, for DOCKER_HOST and docker -H.</summary>
    public string Endpoint => "unix://" + Socket;

    public bool IsRunning => _dockerd is { HasExited: false };

    /// <summary>A network name of the engine's own, named after its folder (bridge names are host-wide).</summary>
    public string NetworkName => "pco" + Path.GetFileName(_folder)[^8..];

    private string DefaultBridge => "pcb" + Path.GetFileName(_folder)[^8..];

    public static async Task<PrivateDockerd> StartAsync(PrivateDockerdOptions options)
    {
        var engine = new PrivateDockerd(Path.Combine("/tmp", options.FolderPrefix + Guid.NewGuid().ToString("N")[..8]), options);
        Directory.CreateDirectory(engine._folder);
        try
        {
            if (options.OwnBridge)
                Ensure(await TestProcess.RunAsync("ip", ["link", "add", "name", engine.DefaultBridge, "type", "bridge"]).ConfigureAwait(false), "creating the private engine's bridge");
            await engine.StartDockerdAsync().ConfigureAwait(false);
            if (options.Image is { } image)
                Ensure(await TestProcess.RunAsync("bash", ["-c", $"docker save {image} | docker -H {engine.Endpoint} load"], timeout: TimeSpan.FromMinutes(2)).ConfigureAwait(false),
                    "loading the test image into the private engine");
            return engine;
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task StartDockerdAsync()
    {
        string[] command =
        [
            .. _options.Wrapper, "dockerd", "-H", Endpoint, "--data-root", _options.DataRoot ?? Path.Combine(_folder, "data"), "--exec-root", Path.Combine(_folder, "exec"),
            "--pidfile", Path.Combine(_folder, "docker.pid"), .. (_options.OwnBridge ? (string[])["--bridge", DefaultBridge] : []),
            _options.Iptables ? "--iptables=true" : "--iptables=false", "--ip6tables=false",
            .. (_options.StorageDriver is { } driver ? (string[])["--storage-driver", driver] : []), .. _options.DaemonArguments,
        ];
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in command[1..])
            info.ArgumentList.Add(argument);
        var log = File.AppendText(Path.Combine(_folder, "dockerd.log"));
        int open = 2;
        // Closed once both streams ended (not on Exited, which can come before their last lines).
        void Write(string? line)
        {
            lock (log)
            {
                if (line is not null)
                    log.WriteLine(line);
                else if (--open == 0)
                    log.Dispose();
            }
        }
        var dockerd = Process.Start(info) ?? throw new InvalidOperationException("could not start dockerd");
        dockerd.OutputDataReceived += (_, e) => Write(e.Data);
        dockerd.ErrorDataReceived += (_, e) => Write(e.Data);
        dockerd.BeginOutputReadLine();
        dockerd.BeginErrorReadLine();
        _dockerd = dockerd;
        await Eventually.WaitAsync(async () =>
        {
            if (dockerd.HasExited)
                throw new InvalidOperationException($"private dockerd exited with {dockerd.ExitCode}; see {_folder}/dockerd.log");
            return (await DockerAsync("info").ConfigureAwait(false)).ExitCode == 0;
        }, "the private dockerd to answer", TimeSpan.FromSeconds(90)).ConfigureAwait(false);
    }

    /// <summary>SIGTERM, as a service manager stops it (its containers stop with it); waits until it has exited.</summary>
    public async Task StopDockerdAsync()
    {
        if (_dockerd is not { HasExited: false } dockerd)
            return;
        Posix.Kill(dockerd.Id, Posix.SIGTERM);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await dockerd.WaitForExitAsync(guard.Token).ConfigureAwait(false);
        dockerd.Dispose();
        _dockerd = null;
    }

    public Task<ProcessResult> DockerAsync(params string[] arguments) => TestProcess.RunAsync("docker", ["-H", Endpoint, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        if (IsRunning)
        {
            var ids = (await DockerAsync("ps", "-aq").ConfigureAwait(false)).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (ids.Length > 0)
                await DockerAsync(["rm", "-f", .. ids]).ConfigureAwait(false);
            // Removing the networks takes their bridge interfaces off the host too.
            await DockerAsync("network", "prune", "-f").ConfigureAwait(false);
            await StopDockerdAsync().ConfigureAwait(false);
        }
        if (_options.OwnBridge)
            await TestProcess.RunAsync("ip", ["link", "delete", DefaultBridge]).ConfigureAwait(false);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A mount the engine left behind; the folder is under /tmp and named for the run.
        }
    }

    private static void Ensure(ProcessResult result, string what)
    {
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{what} failed: {result}");
    }
}

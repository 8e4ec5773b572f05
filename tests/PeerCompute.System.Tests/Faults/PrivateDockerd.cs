using System.Diagnostics;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A dockerd of the test's own, inside a test-made network namespace (so its bridges, the provider's
/// network and the published 127.0.0.1 ports are all the namespace's, never the host's), with its own
/// socket, data root, exec root and pidfile, and no iptables. The shared engine is never touched: this
/// one can be stopped and started at will.
/// </summary>
internal sealed class PrivateDockerd : IAsyncDisposable
{
    private readonly string _folder;
    private readonly NetworkNamespace _ns;
    private Process? _dockerd;

    private PrivateDockerd(string folder, NetworkNamespace ns)
    {
        _folder = folder;
        _ns = ns;
    }

    /// <summary>unix:// endpoint, for DOCKER_HOST and docker -H.</summary>
    public string Endpoint => "unix://" + Path.Combine(_folder, "docker.sock");

    public bool IsRunning => _dockerd is { HasExited: false };

    public static async Task<PrivateDockerd> StartAsync(NetworkNamespace ns)
    {
        // Short path: unix socket paths are limited to 108 bytes.
        var engine = new PrivateDockerd(Path.Combine("/tmp", "pcfd-" + Guid.NewGuid().ToString("N")[..8]), ns);
        Directory.CreateDirectory(engine._folder);
        try
        {
            await engine.StartDockerdAsync();
            // The engine has no images and no registry: hand it the test image.
            var load = await TestProcess.RunAsync("bash", ["-c", $"docker save {Deploy.DeployWorkflowTests.TestImage} | docker -H {engine.Endpoint} load"], timeout: TimeSpan.FromMinutes(2));
            if (load.ExitCode != 0)
                throw new InvalidOperationException($"loading the test image into the private engine failed: {load}");
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
        var info = new ProcessStartInfo(_ns.Exec[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[
            .. _ns.Exec[1..], "dockerd", "-H", Endpoint, "--data-root", Path.Combine(_folder, "data"), "--exec-root", Path.Combine(_folder, "exec"),
            "--pidfile", Path.Combine(_folder, "docker.pid"), "--iptables=false", "--ip6tables=false"])
        {
            info.ArgumentList.Add(argument);
        }
        var log = File.AppendText(Path.Combine(_folder, "dockerd.log"));
        var dockerd = Process.Start(info) ?? throw new InvalidOperationException("could not start dockerd");
        dockerd.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        dockerd.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        dockerd.BeginOutputReadLine();
        dockerd.BeginErrorReadLine();
        _dockerd = dockerd;
        await Until.TrueAsync(async () =>
        {
            if (dockerd.HasExited)
                throw new InvalidOperationException($"private dockerd exited with {dockerd.ExitCode}; see {_folder}/dockerd.log");
            return (await TestProcess.RunAsync("docker", ["-H", Endpoint, "info"])).ExitCode == 0;
        }, "the private dockerd to answer", TimeSpan.FromSeconds(90));
    }

    /// <summary>SIGTERM, as a service manager stops it (its containers stop with it); waits until it has exited.</summary>
    public async Task StopDockerdAsync()
    {
        if (_dockerd is not { HasExited: false } dockerd)
            return;
        Posix.Kill(dockerd.Id, Posix.SIGTERM);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await dockerd.WaitForExitAsync(guard.Token);
        dockerd.Dispose();
        _dockerd = null;
    }

    public Task<Build.ProcessResult> DockerAsync(params string[] arguments) => TestProcess.RunAsync("docker", ["-H", Endpoint, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        if (IsRunning)
        {
            var ids = (await DockerAsync("ps", "-aq")).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (ids.Length > 0)
                await DockerAsync(["rm", "-f", .. ids]);
            await DockerAsync("network", "prune", "-f");
            await StopDockerdAsync();
        }
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

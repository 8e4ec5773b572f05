using System.Diagnostics;
using System.Net;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>Debian's docker-registry on 127.0.0.1 (the engine treats 127.0.0.0/8 as an insecure registry), with one image the engine has never seen.</summary>
internal sealed class LoopbackRegistry : IAsyncDisposable
{
    private readonly string _folder;
    private Process? _process;

    private LoopbackRegistry(string folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public static async Task<LoopbackRegistry> StartAsync()
    {
        var registry = new LoopbackRegistry(Directory.CreateTempSubdirectory("pc-faults-registry-").FullName, GatewayProcess.FreePort());
        try
        {
            string config = Path.Combine(registry._folder, "config.yml");
            await File.WriteAllTextAsync(config, $"""
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: {Path.Combine(registry._folder, "data")}
                http:
                  addr: 127.0.0.1:{registry.Port}
                """);
            registry._process = Process.Start(new ProcessStartInfo("docker-registry", ["serve", config])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("could not start docker-registry");
            registry._process.OutputDataReceived += (_, _) => { };
            registry._process.ErrorDataReceived += (_, _) => { };
            registry._process.BeginOutputReadLine();
            registry._process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            await Until.TrueAsync(async () =>
            {
                if (registry._process.HasExited)
                    throw new InvalidOperationException($"docker-registry exited with {registry._process.ExitCode}");
                try
                {
                    return (await http.GetAsync($"http://127.0.0.1:{registry.Port}/v2/")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "docker-registry to answer", TimeSpan.FromSeconds(30));
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>Busybox plus a random 1 MiB layer, pushed here and removed from the engine; returns the repository:tag (without registry).</summary>
    public async Task<string> PushFreshImageAsync()
    {
        string repository = "peercompute-test/faults-" + Guid.NewGuid().ToString("N")[..8] + ":v1";
        string name = $"127.0.0.1:{Port}/{repository}";
        string work = Directory.CreateTempSubdirectory("pc-faults-image-").FullName;
        string script = $$$"""
            set -euo pipefail
            cd '{{{work}}}'
            c=$(docker create {{{Deploy.DeployWorkflowTests.TestImage}}})
            docker export "$c" > rootfs.tar
            docker rm "$c" >/dev/null
            head -c 1048576 /dev/urandom > marker
            tar -rf rootfs.tar marker
            docker import --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' rootfs.tar '{{{name}}}' >/dev/null
            docker push '{{{name}}}' >/dev/null
            docker rmi '{{{name}}}' >/dev/null
            """;
        var result = await TestProcess.RunAsync("bash", ["-c", script], timeout: TimeSpan.FromMinutes(2));
        Directory.Delete(work, recursive: true);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"building and pushing a test image failed: {result}");
        return repository;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>Polls a condition that has no event to wait on (a port, a CLI answer), with a timeout that only guards against hangs.</summary>
internal static class Until
{
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(50);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited {timeout.TotalSeconds} s for {what}.");
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }
}

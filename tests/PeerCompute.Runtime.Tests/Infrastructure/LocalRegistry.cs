using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// Debian's docker-registry on loopback, twice over one storage folder: an open endpoint the test
/// pushes to, and one behind htpasswd for the private-registry case. The engine treats 127.0.0.0/8
/// as an insecure (plain HTTP) registry by default.
/// </summary>
internal sealed class LocalRegistry : IAsyncDisposable
{
    public const string User = "puller";
    public const string Password = "pull-secret";

    private readonly List<Process> _processes = [];
    private readonly string _folder;

    private LocalRegistry(string folder) => _folder = folder;

    /// <summary>host:port of the open endpoint.</summary>
    public string Open { get; private set; } = "";
    /// <summary>host:port of the endpoint that wants credentials.</summary>
    public string Private { get; private set; } = "";

    public static async Task<LocalRegistry> StartAsync()
    {
        await TestEngine.EnsureReadyAsync();
        var registry = new LocalRegistry(Path.Combine(Path.GetTempPath(), "pc-registry-" + Guid.NewGuid().ToString("N")[..8]));
        Directory.CreateDirectory(registry._folder);
        try
        {
            var htpasswd = (await Cli.RunAsync("htpasswd", ["-nbB", User, Password])).EnsureSuccess("htpasswd");
            await File.WriteAllTextAsync(Path.Combine(registry._folder, "htpasswd"), htpasswd.Stdout.Trim() + "\n");
            registry.Open = await registry.StartOneAsync("open", auth: false);
            registry.Private = await registry.StartOneAsync("private", auth: true);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Makes an image the engine has never seen (busybox plus a random 1 MiB layer), pushes it to the
    /// open endpoint, removes it locally, and returns the repository (without registry) and its digest.
    /// </summary>
    public async Task<(string Repository, string Digest)> PushFreshImageAsync(string tag = "v1")
    {
        string repository = "peercompute-test/pulled-" + Guid.NewGuid().ToString("N")[..8];
        string name = $"{Open}/{repository}:{tag}";
        string work = Path.Combine(_folder, "build-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        string script = $$$"""
            set -euo pipefail
            cd '{{{work}}}'
            c=$(docker create {{{TestEngine.BusyboxImage}}})
            docker export "$c" > rootfs.tar
            docker rm "$c" >/dev/null
            head -c 1048576 /dev/urandom > marker
            tar -rf rootfs.tar marker
            docker import --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' rootfs.tar '{{{name}}}' >/dev/null
            docker push '{{{name}}}' >/dev/null
            docker image inspect --format '{{index .RepoDigests 0}}' '{{{name}}}'
            docker rmi '{{{name}}}' >/dev/null
            """;
        var result = (await Cli.RunAsync("bash", ["-c", script], TimeSpan.FromMinutes(2))).EnsureSuccess("building and pushing a test image");
        Directory.Delete(work, recursive: true);
        string repoDigest = result.Stdout.Trim();
        return (repository, repoDigest[(repoDigest.IndexOf('@') + 1)..]);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private async Task<string> StartOneAsync(string name, bool auth)
    {
        int port = FreePort();
        string config = Path.Combine(_folder, name + ".yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(_folder, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            {(auth ? $"auth:\n  htpasswd:\n    realm: peercompute-test\n    path: {Path.Combine(_folder, "htpasswd")}\n" : "")}
            """);
        var process = Process.Start(new ProcessStartInfo("docker-registry")
        {
            ArgumentList = { "serve", config },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("could not start docker-registry");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);

        string endpoint = $"127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.WaitAsync(async () =>
        {
            if (process.HasExited)
                throw new InvalidOperationException($"docker-registry exited with {process.ExitCode}");
            var response = await http.GetAsync($"http://{endpoint}/v2/");
            return response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized;
        }, $"docker-registry on {endpoint}", TimeSpan.FromSeconds(30));
        return endpoint;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Net;

namespace PeerCompute.Testing;

/// <summary>
/// Debian's docker-registry on loopback (the engine treats 127.0.0.0/8 as an insecure, plain HTTP registry): an open
/// endpoint the test pushes to and, when asked, a second one over the same storage behind htpasswd, for the
/// private-registry case.
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    public const string User = "puller";
    public const string Password = "pull-secret";

    private readonly List<Process> _processes = [];
    private readonly string _folder;
    private readonly string _baseImage;
    private readonly string _repositoryPrefix;

    private LocalRegistry(string folder, string baseImage, string repositoryPrefix)
    {
        _folder = folder;
        _baseImage = baseImage;
        _repositoryPrefix = repositoryPrefix;
    }

    /// <summary>host:port of the open endpoint.</summary>
    public string Open { get; private set; } = "";

    /// <summary>The port of the open endpoint.</summary>
    public int OpenPort { get; private set; }

    /// <summary>host:port of the endpoint that wants <see cref="User"/> and <see cref="Password"/> (empty unless asked for).</summary>
    public string Private { get; private set; } = "";

    /// <summary>
    /// Starts the registry. Fresh images are <paramref name="baseImage"/> (of the shared engine) plus a random layer,
    /// pushed as <paramref name="repositoryPrefix"/> and eight random characters.
    /// </summary>
    public static async Task<LocalRegistry> StartAsync(string baseImage, string repositoryPrefix, bool withPrivateEndpoint)
    {
        var registry = new LocalRegistry(Directory.CreateTempSubdirectory("pc-registry-").FullName, baseImage, repositoryPrefix);
        try
        {
            (registry.Open, registry.OpenPort) = await registry.StartOneAsync("open", auth: false).ConfigureAwait(false);
            if (withPrivateEndpoint)
            {
                var htpasswd = await TestProcess.RunAsync("htpasswd", ["-nbB", User, Password]).ConfigureAwait(false);
                if (htpasswd.ExitCode != 0)
                    throw new InvalidOperationException($"htpasswd failed: {htpasswd}");
                await File.WriteAllTextAsync(Path.Combine(registry._folder, "htpasswd"), htpasswd.StandardOutput.Trim() + "\n").ConfigureAwait(false);
                (registry.Private, _) = await registry.StartOneAsync("private", auth: true).ConfigureAwait(false);
            }
            return registry;
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Makes an image the engine has never seen (the base image plus a random 1 MiB layer), pushes it to the
    /// open endpoint, removes it locally, and returns the repository (without registry) and its digest.
    /// </summary>
    public async Task<(string Repository, string Digest)> PushFreshImageAsync(string tag = "v1")
    {
        string repository = _repositoryPrefix + Guid.NewGuid().ToString("N")[..8];
        string name = $"{Open}/{repository}:{tag}";
        string work = Directory.CreateTempSubdirectory("pc-registry-image-").FullName;
        string script = $$$"""
            set -euo pipefail
            cd '{{{work}}}'
            c=$(docker create {{{_baseImage}}})
            docker export "$c" > rootfs.tar
            docker rm "$c" >/dev/null
            head -c 1048576 /dev/urandom > marker
            tar -rf rootfs.tar marker
            docker import --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' rootfs.tar '{{{name}}}' >/dev/null
            docker push '{{{name}}}' >/dev/null
            docker image inspect --format '{{index .RepoDigests 0}}' '{{{name}}}'
            docker rmi '{{{name}}}' >/dev/null
            """;
        var result = await TestProcess.RunAsync("bash", ["-c", script], timeout: TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        Directory.Delete(work, recursive: true);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"building and pushing a test image failed: {result}");
        string repoDigest = result.StandardOutput.Trim();
        return (repository, repoDigest[(repoDigest.IndexOf('@', StringComparison.Ordinal) + 1)..]);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                process.Kill();
                await process.WaitForExitAsync().ConfigureAwait(false);
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

    private async Task<(string Endpoint, int Port)> StartOneAsync(string name, bool auth)
    {
        int port = FreePorts.One();
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
            """).ConfigureAwait(false);
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
            var response = await http.GetAsync(new Uri($"http://{endpoint}/v2/")).ConfigureAwait(false);
            return response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized;
        }, $"docker-registry on {endpoint}", TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        return (endpoint, port);
    }
}

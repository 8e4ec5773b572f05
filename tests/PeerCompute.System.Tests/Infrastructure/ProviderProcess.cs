using System.Text.RegularExpressions;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>A real peercomputed for a <see cref="PeerNode"/>, on loopback, without mDNS.</summary>
internal sealed partial class ProviderProcess : IAsyncDisposable
{
    private readonly PeerNode _node;
    private TestProcess _process;

    private ProviderProcess(PeerNode node, TestProcess process, string address)
    {
        _node = node;
        _process = process;
        Address = address;
    }

    /// <summary>Where it listens, e.g. /ip4/127.0.0.1/tcp/41234 (without /p2p); loopback when it listens on every address.</summary>
    public string Address { get; private set; }

    public TestProcess Process => _process;

    public static async Task<ProviderProcess> StartAsync(PeerNode node, params string[] extraArgs)
        => await StartAsync(node, ProviderLaunch.Default, extraArgs);

    /// <summary>Started through <see cref="ProviderLaunch.Wrapper"/> (e.g. <c>ip netns exec NS</c>) with extra environment (e.g. DOCKER_HOST).</summary>
    public static async Task<ProviderProcess> StartAsync(PeerNode node, ProviderLaunch launch, params string[] extraArgs)
    {
        var (process, address) = await LaunchAsync(node, launch.Listen, extraArgs, launch);
        return new ProviderProcess(node, process, address) { ExtraArgs = extraArgs, Launch = launch };
    }

    /// <summary>The TCP port it listens on.</summary>
    public int Port => int.Parse(Address[(Address.LastIndexOf('/') + 1)..], global::System.Globalization.CultureInfo.InvariantCulture);

    private string[] ExtraArgs { get; init; } = [];

    private ProviderLaunch Launch { get; init; } = ProviderLaunch.Default;

    /// <summary>kill -9, as a crash or the OOM killer would; waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        _process.Signal(Posix.SIGKILL);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<(TestProcess, string)> LaunchAsync(PeerNode node, string listen, string[] extraArgs, ProviderLaunch launch)
    {
        var env = new Dictionary<string, string?>(node.Environment);
        foreach (var (key, value) in launch.Environment)
            env[key] = value;
        string[] command = [.. launch.Wrapper, PeerNode.Peercomputed, "--listen", listen, "--no-mdns", .. extraArgs];
        var process = TestProcess.Start(command[0], command[1..], env);
        try
        {
            string line = await process.WaitForLineAsync(l => ListenPattern().IsMatch(l), TimeSpan.FromSeconds(60));
            var match = ListenPattern().Match(line);
            // A wildcard listen is reported as this machine's interface addresses: loopback is the one a local peerctl uses.
            string ip = listen.StartsWith("/ip4/0.0.0.0/", StringComparison.Ordinal) ? "127.0.0.1" : match.Groups[1].Value;
            string address = $"/ip4/{ip}/tcp/{match.Groups[2].Value}";
            await process.WaitForLineAsync(l => l.Contains("ready: serving", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            return (process, address);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, then the exit code (0 expected).</summary>
    public async Task<int> StopAsync()
    {
        _process.Signal(Posix.SIGTERM);
        return await _process.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts it again on the same address, as after a reboot.</summary>
    public async Task RestartAsync()
    {
        if (!_process.HasExited)
            await StopAsync();
        await _process.DisposeAsync();
        // The same port, on the address it was given (a wildcard stays one).
        string listen = Launch.Listen.EndsWith("/tcp/0", StringComparison.Ordinal) ? $"{Launch.Listen[..^1]}{Port}" : Launch.Listen;
        var (process, address) = await LaunchAsync(_node, listen, ExtraArgs, Launch);
        _process = process;
        Address = address;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Signal(Posix.SIGTERM);
            try
            {
                await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
            }
        }
        await _process.DisposeAsync();
        await Docker.RemoveContainersOfAsync(_node.PeerId, Launch.DockerHost);
    }

    [GeneratedRegex(@"listening on /ip4/([0-9.]+)/tcp/(\d+)")]
    private static partial Regex ListenPattern();
}

/// <summary>The docker CLI, for checks and clean-up the product itself does not offer.</summary>
internal static class Docker
{
    public static async Task RemoveContainersOfAsync(string providerPeerId, string? dockerHost = null)
    {
        string[] host = dockerHost is null ? [] : ["-H", dockerHost];
        var list = await TestProcess.RunAsync("docker", [.. host, "ps", "-aq", "--filter", $"label=io.peercompute.instance={providerPeerId}"]);
        var ids = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (ids.Length > 0)
            await TestProcess.RunAsync("docker", [.. host, "rm", "-f", .. ids]);
    }

    public static async Task<string> InspectAsync(string container, string format)
    {
        var result = await TestProcess.RunAsync("docker", ["inspect", "-f", format, container]);
        return result.StandardOutput.Trim();
    }
}

/// <summary>How to start peercomputed: a command prefix (e.g. <c>ip netns exec NS</c>) and environment on top of the node's.</summary>
internal sealed record ProviderLaunch(IReadOnlyList<string> Wrapper, IReadOnlyDictionary<string, string?> Environment)
{
    public static ProviderLaunch Default { get; } = new([], new Dictionary<string, string?>());

    /// <summary>The --listen multiaddr: loopback on a port the kernel picks unless a test needs another (e.g. /ip4/0.0.0.0/tcp/0).</summary>
    public string Listen { get; init; } = "/ip4/127.0.0.1/tcp/0";

    /// <summary>The DOCKER_HOST given to the provider, if any (for clean-up with the docker CLI).</summary>
    public string? DockerHost => Environment.TryGetValue("DOCKER_HOST", out string? host) ? host : null;
}

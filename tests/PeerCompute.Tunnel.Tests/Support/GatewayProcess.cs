using System.Reflection;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// The real gateway program (<see cref="GatewayProgram"/>) with the test PKI and its own PEERCOMPUTE_HOME.
/// Uses $PEERCOMPUTE_GATEWAY (e.g. the Native AOT binary) when set, else the build output.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly GatewayProgram _program;

    private GatewayProcess(TestPki pki, string home, GatewayProgram program)
    {
        Pki = pki;
        Home = home;
        _program = program;
    }

    public TestPki Pki { get; }
    public string Home { get; }
    public string Domain => Pki.Domain;
    public int HttpsPort => _program.HttpsPort;
    public int TunnelPort => _program.TunnelPort;
    public int MetricsPort => _program.MetricsPort!.Value;
    public int RelayPort => _program.RelayPort;
    public int? ExitCode => _program.Process.ExitCode;
    public string Output => _program.Process.Output;

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("PEERCOMPUTE_GATEWAY") is { Length: > 0 } fromEnv
            ? fromEnv
            : typeof(GatewayProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "GatewayBuildOutput").Value!;

    /// <summary>Starts a gateway with the test PKI; <paramref name="args"/> are added (e.g. --open, --trust-provider X).</summary>
    public static async Task<GatewayProcess> StartAsync(TestPki pki, params string[] args)
    {
        string home = Directory.CreateTempSubdirectory("pc-gateway-home-").FullName;
        var program = await GatewayProgram.StartAsync(new GatewayLaunch(ExecutablePath, pki.Domain, ["--cert", pki.CertFile, "--key", pki.KeyFile])
        {
            ExtraArgs = args,
            Metrics = true,
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["PEERCOMPUTE_DEBUG"] = "1" },
            StartTimeout = StartTimeout,
        }).ConfigureAwait(false);
        return new GatewayProcess(pki, home, program);
    }

    /// <summary>Starts the program again with the same ports, home and arguments (after a kill or stop).</summary>
    public Task RestartAsync() => _program.RestartAsync();

    /// <summary>Waits until a line containing <paramref name="text"/> was printed (at any time since the start); fails if the process exits first.</summary>
    public Task<string> WaitForOutputAsync(string text, TimeSpan timeout) =>
        _program.Process.WaitForOutputAsync(l => l.Contains(text, StringComparison.Ordinal), timeout);

    public string UrlFor(string label) => $"https://{label}.{Domain}:{HttpsPort}/";

    public string ResolveArg(string label) => $"{label}.{Domain}:{HttpsPort}:127.0.0.1";

    /// <summary>SIGTERM, then waits for the exit.</summary>
    public Task StopAsync(TimeSpan? timeout = null) => _program.StopAsync(timeout);

    /// <summary>SIGKILL: the process dies without a goodbye (no GoAway).</summary>
    public Task KillAsync() => _program.KillAsync();

    public static int FreePort() => FreePorts.One();

    public async ValueTask DisposeAsync()
    {
        await _program.Process.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// The real gateway program, started as its own process on loopback with free ports and its own
/// PEERCOMPUTE_HOME. Uses $PEERCOMPUTE_GATEWAY (e.g. the Native AOT binary) when set, else the build output.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<string> _extraArgs;
    private Process? _process;
    private TaskCompletionSource _outputChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatewayProcess(TestPki pki, string home, List<string> extraArgs)
    {
        Pki = pki;
        Home = home;
        _extraArgs = extraArgs;
        HttpsPort = FreePort();
        TunnelPort = FreePort();
        MetricsPort = FreePort();
    }

    public TestPki Pki { get; }
    public string Home { get; }
    public string Domain => Pki.Domain;
    public int HttpsPort { get; }
    public int TunnelPort { get; }
    public int MetricsPort { get; }
    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;
    public string Output => string.Join('\n', _output);

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("PEERCOMPUTE_GATEWAY") is { Length: > 0 } fromEnv
            ? fromEnv
            : typeof(GatewayProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "GatewayBuildOutput").Value!;

    /// <summary>Starts a gateway with the test PKI; <paramref name="args"/> are added (e.g. --open, --trust-provider X).</summary>
    public static async Task<GatewayProcess> StartAsync(TestPki pki, params string[] args)
    {
        string home = Directory.CreateTempSubdirectory("pc-gateway-home-").FullName;
        var gateway = new GatewayProcess(pki, home, [.. args]);
        await gateway.StartProcessAsync().ConfigureAwait(false);
        return gateway;
    }

    /// <summary>Starts the program again with the same ports, home and arguments (after a kill or stop).</summary>
    public Task RestartAsync() => StartProcessAsync();

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--domain", Domain, "--listen", "127.0.0.1",
            "--https-port", HttpsPort.ToString(), "--tunnel-port", TunnelPort.ToString(), "--metrics-port", MetricsPort.ToString(),
            "--cert", Pki.CertFile, "--key", Pki.KeyFile,
        }.Concat(_extraArgs))
            info.ArgumentList.Add(arg);
        info.Environment["PEERCOMPUTE_HOME"] = Home;
        info.Environment["PEERCOMPUTE_DEBUG"] = "1";
        _output.Clear();
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => OnLine(null);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await WaitForOutputAsync("gateway up", StartTimeout).ConfigureAwait(false);
    }

    private void OnLine(string? line)
    {
        if (line is not null)
            _output.Enqueue(line);
        Interlocked.Exchange(ref _outputChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits until a line containing <paramref name="text"/> was printed; fails if the process exits first.</summary>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var changed = Volatile.Read(ref _outputChanged).Task;
            var line = _output.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null)
                return line;
            if (_process is { HasExited: true })
                throw new InvalidOperationException($"the gateway exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
            try
            {
                await changed.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the gateway did not print '{text}' within {timeout}:\n{Output}");
            }
        }
    }

    public string UrlFor(string label) => $"https://{label}.{Domain}:{HttpsPort}/";

    public string ResolveArg(string label) => $"{label}.{Domain}:{HttpsPort}:127.0.0.1";

    /// <summary>SIGTERM, then waits for the exit.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process is null || _process.HasExited)
            return;
        Kill(_process.Id, 15);
        await _process.WaitForExitAsync(new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30)).Token).ConfigureAwait(false);
    }

    /// <summary>SIGKILL: the process dies without a goodbye (no GoAway).</summary>
    public async Task KillAsync()
    {
        if (_process is null || _process.HasExited)
            return;
        _process.Kill();
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    public void SendSignal(int signal) => Kill(_process!.Id, signal);

    public long ResidentSetBytes()
    {
        foreach (string line in File.ReadLines($"/proc/{_process!.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(Home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

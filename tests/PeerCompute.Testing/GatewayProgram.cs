namespace PeerCompute.Testing;

/// <summary>How to start the gateway program: which binary, the domain, the TLS options, and what surrounds it.</summary>
public sealed record GatewayLaunch(string Executable, string Domain, IReadOnlyList<string> Tls)
{
    /// <summary>A command prefix (e.g. <c>nsenter --net=... --</c>).</summary>
    public IReadOnlyList<string> Wrapper { get; init; } = [];

    /// <summary>The --listen address; null: no --listen (the gateway picks, loopback with --open or --self-signed).</summary>
    public string? Listen { get; init; } = "127.0.0.1";

    /// <summary>Options after the common ones (e.g. --open, --trust-provider X, --rate-limit N).</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>Whether to give it a --metrics-port of its own.</summary>
    public bool Metrics { get; init; }

    /// <summary>On top of the inherited environment; a null value removes a variable.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The real gateway program as its own process, on free loopback ports: started, and waited for until it says
/// "gateway up"; restarted on the same ports; stopped, killed or signalled as a service manager or a crash would.
/// </summary>
public sealed class GatewayProgram : IAsyncDisposable
{
    private readonly string[] _command;
    private readonly GatewayLaunch _launch;

    private GatewayProgram(GatewayLaunch launch, string[] command, TestProcess process, int httpsPort, int tunnelPort, int? metricsPort, int relayPort)
    {
        RelayPort = relayPort;
        _launch = launch;
        _command = command;
        Process = process;
        HttpsPort = httpsPort;
        TunnelPort = tunnelPort;
        MetricsPort = metricsPort;
    }

    public TestProcess Process { get; private set; }

    public int HttpsPort { get; }

    public int TunnelPort { get; }

    public int? MetricsPort { get; }

    /// <summary>The libp2p relay's port (a free one unless the launch's extra arguments name --relay-port; 0 when off).</summary>
    public int RelayPort { get; }

    public static async Task<GatewayProgram> StartAsync(GatewayLaunch launch)
    {
        // Ports the test chose itself (and freed again) must not come back as the others: the kernel may hand one out twice.
        var named = new HashSet<int>();
        for (int i = 0; i + 1 < launch.ExtraArgs.Count; i++)
            if (launch.ExtraArgs[i].EndsWith("-port", StringComparison.Ordinal) && int.TryParse(launch.ExtraArgs[i + 1], System.Globalization.CultureInfo.InvariantCulture, out int port))
                named.Add(port);
        int[] ports = [.. FreePorts.Many(4 + named.Count).Where(p => !named.Contains(p)).Take(4)];
        List<string> command =
        [
            .. launch.Wrapper, launch.Executable, "--domain", launch.Domain, .. launch.Tls,
            .. (launch.Listen is null ? Array.Empty<string>() : ["--listen", launch.Listen]),
            "--tunnel-port", $"{ports[1]}",
        ];
        // A test may need the HTTPS port before the start (an ACME server that validates TLS-ALPN-01 there) and name it.
        int httpsPort = ports[0];
        int namedHttps = launch.ExtraArgs.ToList().IndexOf("--https-port");
        if (namedHttps >= 0 && namedHttps + 1 < launch.ExtraArgs.Count)
            httpsPort = int.Parse(launch.ExtraArgs[namedHttps + 1], System.Globalization.CultureInfo.InvariantCulture);
        else
            command.AddRange(["--https-port", $"{httpsPort}"]);
        if (launch.Metrics)
            command.AddRange(["--metrics-port", $"{ports[2]}"]);
        // The relay's default port (4001) is one for every gateway: tests give each its own.
        int relayPort = ports[3];
        int namedRelay = launch.ExtraArgs.ToList().IndexOf("--relay-port");
        if (namedRelay >= 0 && namedRelay + 1 < launch.ExtraArgs.Count)
            relayPort = int.Parse(launch.ExtraArgs[namedRelay + 1], System.Globalization.CultureInfo.InvariantCulture);
        else
            command.AddRange(["--relay-port", $"{relayPort}"]);
        command.AddRange(launch.ExtraArgs);
        var process = await LaunchAsync(launch, [.. command]).ConfigureAwait(false);
        return new GatewayProgram(launch, [.. command], process, httpsPort, ports[1], launch.Metrics ? ports[2] : null, relayPort);
    }

    private static async Task<TestProcess> LaunchAsync(GatewayLaunch launch, string[] command)
    {
        var process = TestProcess.Start(command[0], command[1..], launch.Environment);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("gateway up", StringComparison.Ordinal), launch.StartTimeout).ConfigureAwait(false);
            return process;
        }
        catch
        {
            await process.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts it again with the same ports, home and arguments (after a kill or stop).</summary>
    public async Task RestartAsync()
    {
        await Process.DisposeAsync().ConfigureAwait(false);
        Process = await LaunchAsync(_launch, _command).ConfigureAwait(false);
    }

    /// <summary>SIGTERM, then waits for the exit.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (Process.HasExited)
            return;
        Process.Signal(Posix.SIGTERM);
        await Process.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>kill -9, as a crash would (no goodbye to the tunnels); waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        if (Process.HasExited)
            return;
        Process.Signal(Posix.SIGKILL);
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>Resident memory from /proc/PID/status (VmRSS, or VmHWM for the peak).</summary>
    public long Memory(string field = "VmRSS")
    {
        foreach (string line in File.ReadLines($"/proc/{Process.Id}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], global::System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no {field} in /proc/{Process.Id}/status");
    }

    /// <summary>SIGTERM and up to 30 s for a clean exit, then whatever is left is killed.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        await Process.DisposeAsync().ConfigureAwait(false);
    }
}

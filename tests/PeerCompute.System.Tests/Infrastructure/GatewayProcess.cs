using System.Net;
using System.Net.Sockets;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>A real gateway on 127.0.0.1 with a self-signed certificate for *.peercompute.localhost (curl resolves *.localhost to loopback; OpenSSL will not match a wildcard directly under "localhost").</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private GatewayProcess(PeerNode node, TestProcess process, int httpsPort, int tunnelPort, string pin, string[] args)
    {
        _args = args;
        Node = node;
        Process = process;
        HttpsPort = httpsPort;
        TunnelPort = tunnelPort;
        Pin = pin;
    }

    public PeerNode Node { get; }

    private readonly string[] _args;

    public TestProcess Process { get; private set; }

    public int HttpsPort { get; }

    public int TunnelPort { get; }

    public string Pin { get; }

    public string CertificateFile => Path.Combine(Node.Home, "gateway", "self-signed.crt");

    public string TunnelAddress => $"127.0.0.1:{TunnelPort}";

    public static Task<GatewayProcess> StartAsync(PeerNode node, params string[] providers)
        => StartAsync(node, GatewayLaunch.Default, providers);

    /// <summary>Started through <see cref="GatewayLaunch.Wrapper"/> (e.g. <c>ip netns exec NS</c>), listening on <see cref="GatewayLaunch.Listen"/>, with extra options.</summary>
    public static async Task<GatewayProcess> StartAsync(PeerNode node, GatewayLaunch launch, params string[] providers)
    {
        int https = FreePort(), tunnel = FreePort();
        string gateway = Artifacts.PathOf(Artifacts.LinuxX64, "gateway");
        List<string> args = [.. launch.Wrapper, gateway, "--domain", "peercompute.localhost", "--self-signed", "--listen", launch.Listen, "--https-port", $"{https}", "--tunnel-port", $"{tunnel}", .. launch.ExtraArgs];
        foreach (string provider in providers)
            args.AddRange(["--trust-provider", provider]);
        var process = await LaunchAsync(node, [.. args]);
        try
        {
            var pin = await TestProcess.RunAsync(gateway, ["pin"], node.Environment);
            if (pin.ExitCode != 0)
                throw new InvalidOperationException($"gateway pin failed: {pin}");
            return new GatewayProcess(node, process, https, tunnel, pin.StandardOutput.Trim(), [.. args]);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private static async Task<TestProcess> LaunchAsync(PeerNode node, string[] command)
    {
        var process = TestProcess.Start(command[0], command[1..], node.Environment);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("gateway up", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9, as a crash would; waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        Process.Signal(Posix.SIGKILL);
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Starts it again with the same ports, home and certificate (after <see cref="KillAsync"/>).</summary>
    public async Task RestartAsync()
    {
        await Process.DisposeAsync();
        Process = await LaunchAsync(Node, _args);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Process.Signal(Posix.SIGTERM);
        try
        {
            await Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
        }
        await Process.DisposeAsync();
    }
}

/// <summary>How to start the gateway: a command prefix (e.g. <c>ip netns exec NS</c>), the listen address and extra options.</summary>
internal sealed record GatewayLaunch(IReadOnlyList<string> Wrapper, string Listen, IReadOnlyList<string> ExtraArgs)
{
    public static GatewayLaunch Default { get; } = new([], "127.0.0.1", []);
}

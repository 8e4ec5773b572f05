using System.Net;
using System.Net.Sockets;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>A real gateway on 127.0.0.1 with a self-signed certificate for *.peercompute.localhost (curl resolves *.localhost to loopback; OpenSSL will not match a wildcard directly under "localhost").</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private GatewayProcess(PeerNode node, TestProcess process, int httpsPort, int tunnelPort, string pin)
    {
        Node = node;
        Process = process;
        HttpsPort = httpsPort;
        TunnelPort = tunnelPort;
        Pin = pin;
    }

    public PeerNode Node { get; }

    public TestProcess Process { get; }

    public int HttpsPort { get; }

    public int TunnelPort { get; }

    public string Pin { get; }

    public string CertificateFile => Path.Combine(Node.Home, "gateway", "self-signed.crt");

    public string TunnelAddress => $"127.0.0.1:{TunnelPort}";

    public static async Task<GatewayProcess> StartAsync(PeerNode node, params string[] providers)
    {
        int https = FreePort(), tunnel = FreePort();
        string gateway = Artifacts.PathOf(Artifacts.LinuxX64, "gateway");
        var args = new List<string> { "--domain", "peercompute.localhost", "--self-signed", "--listen", "127.0.0.1", "--https-port", $"{https}", "--tunnel-port", $"{tunnel}" };
        foreach (string provider in providers)
            args.AddRange(["--trust-provider", provider]);
        var process = TestProcess.Start(gateway, args, node.Environment);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("gateway up", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            var pin = await TestProcess.RunAsync(gateway, ["pin"], node.Environment);
            if (pin.ExitCode != 0)
                throw new InvalidOperationException($"gateway pin failed: {pin}");
            return new GatewayProcess(node, process, https, tunnel, pin.StandardOutput.Trim());
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
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

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>
/// The published gateway (<see cref="GatewayProgram"/>) for a <see cref="PeerNode"/>, on 127.0.0.1 with a self-signed
/// certificate for *.peercompute.localhost (curl resolves *.localhost to loopback; OpenSSL will not match a wildcard
/// directly under "localhost"), and its pin.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly GatewayProgram _program;

    private GatewayProcess(PeerNode node, GatewayProgram program, string pin)
    {
        Node = node;
        _program = program;
        Pin = pin;
    }

    public PeerNode Node { get; }

    public TestProcess Process => _program.Process;

    public int HttpsPort => _program.HttpsPort;

    public int TunnelPort => _program.TunnelPort;

    public string Pin { get; }

    /// <summary>The port of its libp2p relay.</summary>
    public int RelayPort => _program.RelayPort;

    /// <summary>Its relay's PeerId (<c>gateway id</c>).</summary>
    public async Task<string> RelayIdAsync()
    {
        var id = await TestProcess.RunAsync(Artifacts.PathOf(Artifacts.LinuxX64, "gateway"), ["id"], Node.Environment);
        if (id.ExitCode != 0)
            throw new InvalidOperationException($"gateway id failed: {id}");
        return id.StandardOutput.Trim();
    }

    public string CertificateFile => Path.Combine(Node.Home, "gateway", "self-signed.crt");

    public string TunnelAddress => $"127.0.0.1:{TunnelPort}";

    public static Task<GatewayProcess> StartAsync(PeerNode node, params string[] providers)
        => StartAsync(node, null, providers);

    /// <summary>Started as <paramref name="configure"/> says (e.g. a wrapper such as <c>nsenter</c>, another listen address, extra options).</summary>
    public static async Task<GatewayProcess> StartAsync(PeerNode node, Func<GatewayLaunch, GatewayLaunch>? configure, params string[] providers)
    {
        string gateway = Artifacts.PathOf(Artifacts.LinuxX64, "gateway");
        var launch = new GatewayLaunch(gateway, "peercompute.localhost", ["--self-signed"]) { Environment = node.Environment };
        launch = configure?.Invoke(launch) ?? launch;
        launch = launch with { ExtraArgs = [.. launch.ExtraArgs, .. providers.SelectMany(p => new[] { "--trust-provider", p })] };
        var program = await GatewayProgram.StartAsync(launch);
        try
        {
            // A gateway without --self-signed or --cert obtains its certificate by ACME: pin that one once it is there.
            string[] pinArgs = ["pin"];
            if (launch.Tls.Count == 0)
            {
                await program.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
                pinArgs = ["pin", "--cert", Path.Combine(node.Home, "gateway", "acme", "certificate.pem")];
            }
            var pin = await TestProcess.RunAsync(gateway, pinArgs, node.Environment);
            if (pin.ExitCode != 0)
                throw new InvalidOperationException($"gateway pin failed: {pin}");
            return new GatewayProcess(node, program, pin.StandardOutput.Trim());
        }
        catch
        {
            await program.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, as a service manager stops it; waits for the exit.</summary>
    public Task StopAsync(TimeSpan? timeout = null) => _program.StopAsync(timeout);

    /// <summary>kill -9, as a crash would; waits until the process is gone.</summary>
    public Task KillAsync() => _program.KillAsync();

    /// <summary>Starts it again with the same ports, home and certificate (after <see cref="KillAsync"/>).</summary>
    public Task RestartAsync() => _program.RestartAsync();

    /// <summary>Resident memory of the gateway process (VmRSS, or VmHWM for the peak).</summary>
    public long Memory(string field = "VmRSS") => _program.Memory(field);

    public ValueTask DisposeAsync() => _program.DisposeAsync();
}

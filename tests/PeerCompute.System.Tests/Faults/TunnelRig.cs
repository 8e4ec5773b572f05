using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>A gateway, a provider tunnelled to it, and one deployment "web" answering at its public URL.</summary>
internal sealed class TunnelRig : IAsyncDisposable
{
    private readonly PeerNode _providerNode;
    private readonly PeerNode _user;
    private readonly PeerNode _gatewayNode;

    private TunnelRig(PeerNode provider, PeerNode user, PeerNode gatewayNode, GatewayProcess gateway, ProviderProcess daemon, string publicUrl)
    {
        _providerNode = provider;
        _user = user;
        _gatewayNode = gatewayNode;
        Gateway = gateway;
        Daemon = daemon;
        PublicUrl = publicUrl;
    }

    public GatewayProcess Gateway { get; }

    public ProviderProcess Daemon { get; }

    public PeerNode Provider => _providerNode;

    public string PublicUrl { get; }

    public X509Certificate2 GatewayCertificate => X509CertificateLoader.LoadCertificateFromFile(Gateway.CertificateFile);

    /// <summary>The rate limit is lifted: the load comes from one client address.</summary>
    public static async Task<TunnelRig> StartAsync(GatewayLaunch? gatewayLaunch = null, string? gatewayAddress = null)
    {
        var provider = await PeerNode.CreateAsync("provider");
        var user = await PeerNode.CreateAsync("user");
        var gatewayNode = await PeerNode.CreateAsync("gateway");
        GatewayProcess? gateway = null;
        ProviderProcess? daemon = null;
        try
        {
            await provider.TrustAsync(user, "sam");
            var launch = gatewayLaunch ?? GatewayLaunch.Default;
            gateway = await GatewayProcess.StartAsync(gatewayNode, launch with { ExtraArgs = [.. launch.ExtraArgs, "--rate-limit", "1000000"] }, provider.PeerId);
            daemon = await ProviderProcess.StartAsync(provider, "--gateway", $"{gatewayAddress ?? "127.0.0.1"}:{gateway.TunnelPort}", "--gateway-pin", gateway.Pin);
            await daemon.Process.WaitForLineAsync(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            await user.TrustAsync(provider, "maya", daemon.Address);
            var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json")).RootElement;
            return new TunnelRig(provider, user, gatewayNode, gateway, daemon, deployed.GetProperty("publicUrl").GetString()!);
        }
        catch
        {
            if (daemon is not null)
                await daemon.DisposeAsync();
            if (gateway is not null)
                await gateway.DisposeAsync();
            provider.Dispose();
            user.Dispose();
            gatewayNode.Dispose();
            throw;
        }
    }

    public PublicLoad Load(int clients, TimeSpan timeout) =>
        new(PublicUrl, new IPEndPoint(IPAddress.Loopback, Gateway.HttpsPort), GatewayCertificate, clients, timeout);

    /// <summary>Resident memory of the gateway process, from /proc/PID/status (VmRSS, or VmHWM for the peak).</summary>
    public long GatewayMemory(string field = "VmRSS")
    {
        foreach (string line in File.ReadLines($"/proc/{Gateway.Process.Id}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], global::System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no {field} in /proc/{Gateway.Process.Id}/status");
    }

    public async ValueTask DisposeAsync()
    {
        await Daemon.DisposeAsync();
        await Gateway.DisposeAsync();
        _providerNode.Dispose();
        _user.Dispose();
        _gatewayNode.Dispose();
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>A gateway, a provider tunnelled to it, and one deployment "web" answering at its public URL.</summary>
internal sealed class TunnelRig : IAsyncDisposable
{
    private readonly TrustedCluster _cluster;

    private TunnelRig(TrustedCluster cluster, string publicUrl)
    {
        _cluster = cluster;
        PublicUrl = publicUrl;
    }

    public GatewayProcess Gateway => _cluster.Gateway;

    public ProviderProcess Daemon => _cluster.Daemon;

    public PeerNode Provider => _cluster.Provider;

    public string PublicUrl { get; }

    public X509Certificate2 GatewayCertificate => X509CertificateLoader.LoadCertificateFromFile(Gateway.CertificateFile);

    /// <summary>The rate limit is lifted: the load comes from one client address.</summary>
    public static async Task<TunnelRig> StartAsync(Func<GatewayLaunch, GatewayLaunch>? configureGateway = null, string? gatewayAddress = null)
    {
        var cluster = await TrustedCluster.StartWithGatewayAsync(launch =>
        {
            launch = configureGateway?.Invoke(launch) ?? launch;
            return launch with { ExtraArgs = [.. launch.ExtraArgs, "--rate-limit", "1000000"] };
        }, gatewayAddress);
        try
        {
            var deployed = JsonDocument.Parse(await cluster.User.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json")).RootElement;
            return new TunnelRig(cluster, deployed.GetProperty("publicUrl").GetString()!);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public PublicLoad Load(int clients, TimeSpan timeout) =>
        new(PublicUrl, new IPEndPoint(IPAddress.Loopback, Gateway.HttpsPort), GatewayCertificate, clients, timeout);

    /// <summary>Resident memory of the gateway process, from /proc/PID/status (VmRSS, or VmHWM for the peak).</summary>
    public long GatewayMemory(string field = "VmRSS") => Gateway.Memory(field);

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();
}

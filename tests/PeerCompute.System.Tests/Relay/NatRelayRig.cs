using System.Net;
using System.Net.Sockets;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Relay;

/// <summary>
/// A provider the user can reach only through the gateway's relay, on a <see cref="NatLab"/>: the gateway (and its relay)
/// in the lab's public namespace on <see cref="NatLab.PublicHostAddress"/>; the provider (real peercomputed, real Docker)
/// in the root namespace behind the host router, listening on every address, tunnelled to the gateway and holding a
/// reservation on its relay; the user's peerctl in the home namespace behind the home router. The user's trust list has
/// the provider's direct address (unreachable from home: the host router drops what comes in) and its relayed one.
/// </summary>
internal sealed class NatRelayRig : IAsyncDisposable
{
    private readonly List<PeerNode> _nodes;

    private NatRelayRig(NatLab lab, List<PeerNode> nodes, GatewayProcess gateway, ProviderProcess daemon, string relayId)
    {
        Lab = lab;
        _nodes = nodes;
        Gateway = gateway;
        Daemon = daemon;
        RelayId = relayId;
    }

    public NatLab Lab { get; }

    public PeerNode Provider => _nodes[0];

    public PeerNode User => _nodes[1];

    public GatewayProcess Gateway { get; }

    public ProviderProcess Daemon { get; }

    /// <summary>The gateway relay's PeerId.</summary>
    public string RelayId { get; }

    /// <summary>The provider's address on the root namespace's link to its router: real, but behind the NAT.</summary>
    public string DirectAddress => $"/ip4/{Lab.HostLinkAddress}/tcp/{Daemon.Port}";

    /// <summary>The relay's address as the provider reserves on it (what its log names).</summary>
    public string RelayAddress => $"/ip4/{Lab.PublicHostAddress}/tcp/{Gateway.RelayPort}/p2p/{RelayId}";

    public string RelayedAddress => $"{RelayAddress}/p2p-circuit/p2p/{Provider.PeerId}";

    /// <summary>
    /// Starts it all behind a port-changing NAT on the provider's side (so hole punching fails and everything stays on the
    /// relay); returns once the provider's tunnel is up and its relay reservation made.
    /// </summary>
    public static Task<NatRelayRig> StartAsync(params string[] gatewayArgs) => StartAsync(new NatLabOptions { HardNatHost = true }, gatewayArgs);

    /// <summary>As <see cref="StartAsync(string[])"/> behind the NATs <paramref name="nat"/> describes.</summary>
    public static Task<NatRelayRig> StartAsync(NatLabOptions nat, params string[] gatewayArgs) => StartAsync(nat, [], gatewayArgs);

    /// <summary>As <see cref="StartAsync(NatLabOptions, string[])"/>, the provider started with <paramref name="providerArgs"/> too.</summary>
    public static async Task<NatRelayRig> StartAsync(NatLabOptions nat, IReadOnlyList<string> providerArgs, params string[] gatewayArgs)
    {
        var lab = await NatLab.CreateAsync(nat);
        var nodes = new List<PeerNode>();
        GatewayProcess? gateway = null;
        ProviderProcess? daemon = null;
        try
        {
            var provider = await NodeAsync(nodes, "provider");
            var user = await NodeAsync(nodes, "user");
            var gatewayNode = await NodeAsync(nodes, "gateway");
            await provider.TrustAsync(user, "sam");
            gateway = await GatewayProcess.StartAsync(gatewayNode, launch => launch with
            {
                Wrapper = NatLab.Exec(lab.PublicNamespace),
                Listen = lab.PublicHostAddress.ToString(),
                ExtraArgs = [.. launch.ExtraArgs, .. gatewayArgs],
            }, provider.PeerId);
            string relayId = await gateway.RelayIdAsync();
            daemon = await ProviderProcess.StartAsync(provider, ProviderLaunch.Default with { Listen = "/ip4/0.0.0.0/tcp/0" },
                ["--gateway", $"{lab.PublicHostAddress}:{gateway.TunnelPort}", "--gateway-pin", gateway.Pin, .. providerArgs]);
            var rig = new NatRelayRig(lab, nodes, gateway, daemon, relayId);
            await rig.WaitForReservationAsync();
            await user.CtlOkAsync("peers", "add", provider.PeerId, "--name", "maya", "--addr", rig.DirectAddress, "--addr", rig.RelayedAddress);
            return rig;
        }
        catch
        {
            if (daemon is not null)
                await daemon.DisposeAsync();
            if (gateway is not null)
                await gateway.DisposeAsync();
            nodes.ForEach(n => n.Dispose());
            await lab.DisposeAsync();
            throw;
        }
    }

    private static async Task<PeerNode> NodeAsync(List<PeerNode> nodes, string label)
    {
        var node = await PeerNode.CreateAsync(label);
        nodes.Add(node);
        return node;
    }

    /// <summary>Waits for the provider's next "relay: reserved on" line for the gateway's relay.</summary>
    public Task<string> WaitForReservationAsync() =>
        Daemon.Process.WaitForLineAsync(l => l.Contains($"relay: reserved on {RelayAddress}", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

    private string[] InHome(string program, string[] args) => [.. NatLab.Exec(Lab.HomeNamespace)[1..], program, .. args];

    /// <summary>The user's peerctl, run to the end in the home namespace.</summary>
    public Task<ProcessResult> CtlFromHomeAsync(params string[] args) =>
        TestProcess.RunAsync("nsenter", InHome(PeerNode.Peerctl, args), User.Environment, TimeSpan.FromMinutes(3));

    /// <summary>As <see cref="CtlFromHomeAsync"/>; requires exit 0 and returns stdout.</summary>
    public async Task<string> CtlFromHomeOkAsync(params string[] args)
    {
        var result = await CtlFromHomeAsync(args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"peerctl {string.Join(' ', args)} (from home) failed: {result}\n{Logs}");
        return result.StandardOutput;
    }

    /// <summary>The end of the gateway's and the provider's output, for failure messages.</summary>
    public string Logs => $"{Lab}\n--- gateway:\n{Tail(Gateway.Process.Output)}\n--- provider:\n{Tail(Daemon.Process.Output)}";

    private static string Tail(string output, int lines = 40) => string.Join('\n', output.Split('\n').TakeLast(lines));

    /// <summary>The user's peerctl in the background in the home namespace (nsenter execs it: the pid is peerctl's).</summary>
    /// <remarks>
    /// SIGINT is set back to its default first: a suite started as a background job of a non-interactive shell (as CI
    /// scripts are) inherits it ignored, and peerctl, as any program should, keeps an ignored SIGINT ignored, so the
    /// test's Ctrl-C would never arrive.
    /// </remarks>
    public TestProcess StartCtlFromHome(params string[] args) =>
        TestProcess.Start("env", ["--default-signal=INT", "nsenter", .. InHome(PeerNode.Peerctl, args)], User.Environment);

    /// <summary>curl in the home namespace, the URL's host resolved to the gateway's public address, verifying its certificate, TLS 1.3 only.</summary>
    public Task<ProcessResult> CurlFromHomeAsync(string url)
    {
        var uri = new Uri(url);
        return TestProcess.RunAsync("nsenter", InHome("curl", ["-sS", "-m", "20", "--tlsv1.3", "--cacert", Gateway.CertificateFile,
            "--resolve", $"{uri.Host}:{uri.Port}:{Lab.PublicHostAddress}", url]));
    }

    /// <summary>A plain TCP connect from the home namespace to <paramref name="to"/>; null when it connected, else why not.</summary>
    public async Task<Exception?> TryConnectFromHomeAsync(IPEndPoint to, TimeSpan timeout)
    {
        using var socket = await Lab.RunInNamespaceAsync(Lab.HomeNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(to, cts.Token);
            return null;
        }
        catch (OperationCanceledException)
        {
            return new TimeoutException($"connecting to {to} from home timed out after {timeout.TotalSeconds} s");
        }
        catch (SocketException e)
        {
            return e;
        }
    }

    /// <summary>Everything in the namespaces has ended before the lab goes (a namespace with a process inside outlives its name).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Daemon.DisposeAsync();
            await Gateway.DisposeAsync();
            foreach (var node in Enumerable.Reverse(_nodes))
                node.Dispose();
        }
        finally
        {
            await Lab.DisposeAsync();
        }
    }
}

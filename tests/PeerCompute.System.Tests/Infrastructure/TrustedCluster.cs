namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>
/// The prologue of most system tests, as one disposable: a provider and a user who trust each other (the provider
/// calls the user "sam", the user calls the provider "maya"), each with a home in a temp folder, the provider's
/// peercomputed running; optionally a gateway that trusts the provider, with the provider's tunnel connected.
/// </summary>
internal sealed class TrustedCluster : IAsyncDisposable
{
    private readonly List<PeerNode> _nodes;

    private TrustedCluster(PeerNode provider, PeerNode user, ProviderProcess daemon, List<PeerNode> nodes, IReadOnlyList<GatewayProcess> gateways)
    {
        Provider = provider;
        User = user;
        Daemon = daemon;
        _nodes = nodes;
        Gateways = gateways;
    }

    public PeerNode Provider { get; }

    public PeerNode User { get; }

    public ProviderProcess Daemon { get; }

    /// <summary>The gateways (each with a home of its own), when started with <see cref="StartWithGatewayAsync"/> or <see cref="StartWithGatewaysAsync"/>.</summary>
    public IReadOnlyList<GatewayProcess> Gateways { get; }

    /// <summary>The gateway, when started with <see cref="StartWithGatewayAsync"/>.</summary>
    public GatewayProcess Gateway => Gateways.Count > 0 ? Gateways[0] : throw new InvalidOperationException("this cluster was started without a gateway");

    public void Deconstruct(out PeerNode provider, out PeerNode user, out ProviderProcess daemon)
    {
        provider = Provider;
        user = User;
        daemon = Daemon;
    }

    /// <summary>The pair, the provider started with <paramref name="providerArgs"/>.</summary>
    public static Task<TrustedCluster> StartAsync(params string[] providerArgs) => StartAsync(ProviderLaunch.Default, providerArgs);

    /// <summary>The pair, the provider started through <paramref name="launch"/> (a wrapper, DOCKER_HOST).</summary>
    public static Task<TrustedCluster> StartAsync(ProviderLaunch launch, params string[] providerArgs) =>
        StartAsync(launch, gateway: null, 0, providerArgs);

    /// <summary>
    /// The pair and a gateway trusting the provider; the provider tunnels to it (at <paramref name="gatewayAddress"/>,
    /// 127.0.0.1 by default) and the cluster is returned once the tunnel is connected.
    /// </summary>
    public static Task<TrustedCluster> StartWithGatewayAsync(Func<GatewayLaunch, GatewayLaunch>? configureGateway = null, string? gatewayAddress = null, params string[] providerArgs) =>
        StartAsync(ProviderLaunch.Default, (configureGateway, gatewayAddress ?? "127.0.0.1"), 1, providerArgs);

    /// <summary>
    /// The pair and <paramref name="count"/> gateways of one domain, each with its own home, certificate and pin; the
    /// provider tunnels to every one (one --gateway and --gateway-pin each) and the cluster is returned once all are connected.
    /// </summary>
    public static Task<TrustedCluster> StartWithGatewaysAsync(int count, params string[] providerArgs) =>
        StartAsync(ProviderLaunch.Default, (null, "127.0.0.1"), count, providerArgs);

    private static async Task<TrustedCluster> StartAsync(ProviderLaunch launch, (Func<GatewayLaunch, GatewayLaunch>? Configure, string Address)? gateway, int gatewayCount, string[] providerArgs)
    {
        var nodes = new List<PeerNode>();
        var gateways = new List<GatewayProcess>();
        ProviderProcess? daemon = null;
        try
        {
            var provider = await NodeAsync(nodes, "provider");
            var user = await NodeAsync(nodes, "user");
            await provider.TrustAsync(user, "sam");
            var gatewayArgs = new List<string>();
            for (int i = 0; gateway is { } g && i < gatewayCount; i++)
            {
                var gatewayNode = await NodeAsync(nodes, gatewayCount == 1 ? "gateway" : $"gateway{i + 1}");
                var gatewayProcess = await GatewayProcess.StartAsync(gatewayNode, g.Configure, provider.PeerId);
                gateways.Add(gatewayProcess);
                gatewayArgs.AddRange(["--gateway", $"{g.Address}:{gatewayProcess.TunnelPort}", "--gateway-pin", gatewayProcess.Pin]);
            }
            daemon = await ProviderProcess.StartAsync(provider, launch, [.. gatewayArgs, .. providerArgs]);
            // The tunnel may connect before the provider says it is ready (the start waited for that line), and several
            // tunnels connect in any order: look at every line, not only those after the last wait.
            if (gateways.Count == 1)
                await daemon.Process.WaitForOutputAsync(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            foreach (var g in gateways.Skip(gateways.Count == 1 ? 1 : 0))
                await daemon.Process.WaitForOutputAsync(l => l.Contains($"gateway tunnel connected (127.0.0.1:{g.TunnelPort})", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            await user.TrustAsync(provider, "maya", daemon.Address);
            return new TrustedCluster(provider, user, daemon, nodes, gateways);
        }
        catch
        {
            if (daemon is not null)
                await daemon.DisposeAsync();
            foreach (var g in gateways)
                await g.DisposeAsync();
            nodes.ForEach(n => n.Dispose());
            throw;
        }
    }

    private static async Task<PeerNode> NodeAsync(List<PeerNode> nodes, string label)
    {
        var node = await PeerNode.CreateAsync(label);
        nodes.Add(node);
        return node;
    }

    /// <summary>Another user the provider trusts (as <paramref name="name"/>) and who trusts it back; its home goes with the cluster.</summary>
    public async Task<PeerNode> AddUserAsync(string label, string name)
    {
        var other = await NodeAsync(_nodes, label);
        await Provider.TrustAsync(other, name);
        await other.TrustAsync(Provider, "maya", Daemon.Address);
        return other;
    }

    /// <summary>A node that knows the provider's address (as "maya") but that the provider does not trust; its home goes with the cluster.</summary>
    public async Task<PeerNode> AddStrangerAsync(string label)
    {
        var stranger = await NodeAsync(_nodes, label);
        await stranger.TrustAsync(Provider, "maya", Daemon.Address);
        return stranger;
    }

    /// <summary>Every node's home, the gateway's included.</summary>
    public IReadOnlyList<PeerNode> Nodes => _nodes;

    public async ValueTask DisposeAsync()
    {
        await Daemon.DisposeAsync();
        // Volumes stay mounted when the provider stops (by design); the test's go with its homes.
        await LoopMounts.RemoveUnderAsync(Provider.Home);
        foreach (var gateway in Gateways)
            await gateway.DisposeAsync();
        foreach (var node in Enumerable.Reverse(_nodes))
            node.Dispose();
    }
}

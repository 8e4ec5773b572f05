using System.Net;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>A provider in the test process: the real <see cref="TunnelClient"/> with routes to upstream servers.</summary>
internal sealed class TestProvider : IAsyncDisposable
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, IPEndPoint> _routes;

    private TestProvider(PeerIdentity identity, TunnelClient client, Dictionary<string, IPEndPoint> routes)
    {
        Identity = identity;
        Client = client;
        _routes = routes;
    }

    public PeerIdentity Identity { get; }
    public TunnelClient Client { get; }
    public Task Running { get; private set; } = Task.CompletedTask;
    public string Tag => Client.Tag;

    public string Label(string name) => TunnelHostname.LabelFor(name, Tag);

    public static TestProvider Create(string host, int port, TestPki pki, Dictionary<string, IPEndPoint> routes, PeerIdentity? identity = null,
        Func<TunnelClientOptions, TunnelClientOptions>? configure = null, IReadOnlyDictionary<string, RouteAccess>? access = null)
    {
        identity ??= PeerIdentity.Generate();
        var options = new TunnelClientOptions
        {
            GatewayHost = host,
            GatewayPort = port,
            ServerName = "tunnel." + pki.Domain,
            CaFile = pki.CaFile,
            InitialBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(2),
        };
        options = configure?.Invoke(options) ?? options;
        var client = new TunnelClient(identity, options, (name, _) =>
            ValueTask.FromResult<IPEndPoint?>(routes.TryGetValue(name, out var endpoint) ? endpoint : null));
        client.SetRoutes(routes.Keys, access);
        return new TestProvider(identity, client, routes);
    }

    public static TestProvider For(GatewayProcess gateway, Dictionary<string, IPEndPoint> routes, PeerIdentity? identity = null,
        Func<TunnelClientOptions, TunnelClientOptions>? configure = null, IReadOnlyDictionary<string, RouteAccess>? access = null) =>
        Create("127.0.0.1", gateway.TunnelPort, gateway.Pki, routes, identity, configure, access);

    public TestProvider Start()
    {
        Running = Client.RunAsync(_stop.Token);
        return this;
    }

    /// <summary>Waits until connected and every route was accepted by the gateway.</summary>
    public Task<TunnelStatus> WaitReadyAsync(TimeSpan? timeout = null) =>
        Client.WaitForAsync(s => s.State == TunnelState.Connected && _routes.Keys.All(n => s.Routes.TryGetValue(Label(n), out var r) && r.Accepted),
            new CancellationTokenSource(timeout ?? Guard).Token);

    public Task<TunnelStatus> WaitForAsync(Func<TunnelStatus, bool> predicate, TimeSpan? timeout = null) =>
        Client.WaitForAsync(predicate, new CancellationTokenSource(timeout ?? Guard).Token);

    public async Task StopAsync()
    {
        _stop.Cancel();
        await Running.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Client.DisposeAsync().ConfigureAwait(false);
        Identity.Dispose();
    }
}

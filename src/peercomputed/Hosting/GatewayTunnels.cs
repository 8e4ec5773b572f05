using System.Net;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Provider.Configuration;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tls;
using ZLogger;

namespace PeerCompute.Daemon.Hosting;

/// <summary>
/// One outbound tunnel per <c>--gateway</c>, each connecting and reconnecting on its own. Every tunnel announces every
/// route, so a deployment answers at the same hostname on each gateway: the hostname's tag is derived from the
/// provider's PeerId, so gateways need no shared state to agree on who owns it (each refuses another key for a tag it
/// has seen, as with one gateway).
/// </summary>
internal sealed class GatewayTunnels : IAsyncDisposable
{
    private readonly IReadOnlyList<(string Address, TunnelClient Client)> _tunnels;

    private GatewayTunnels(IReadOnlyList<(string, TunnelClient)> tunnels) => _tunnels = tunnels;

    /// <summary>The tunnels the configuration asks for; null when it names no gateway.</summary>
    public static GatewayTunnels? Create(ProviderConfig config, PeerIdentity identity, Func<string, CancellationToken, ValueTask<IPEndPoint?>> resolveRoute, ILoggerFactory loggers)
    {
        if (config.Gateways.Count == 0)
            return null;
        var tunnels = new List<(string, TunnelClient)>();
        for (int i = 0; i < config.Gateways.Count; i++)
        {
            string gateway = config.Gateways[i];
            int colon = gateway.LastIndexOf(':');
            string host = colon > 0 ? gateway[..colon].Trim('[', ']') : gateway;
            int port = ProviderConfig.DefaultGatewayPort;
            if (colon > 0 && !int.TryParse(gateway[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
                throw new ConfigException($"--gateway {gateway}: expected HOST:PORT, e.g. gw.example.com:8443");
            CertificatePin? pin = null;
            if (config.GatewayPinFor(i) is { } pinText && !CertificatePin.TryParse(pinText, out pin))
                throw new ConfigException($"--gateway-pin {pinText}: expected the SHA-256 pin printed by 'gateway pin'.");
            var options = new TunnelClientOptions { GatewayHost = host, GatewayPort = port, CaFile = config.GatewayCa, Pin = pin };
            // With several gateways each one's log lines name it.
            string category = config.Gateways.Count == 1 ? "tunnel" : $"tunnel {gateway}";
            tunnels.Add((gateway, new TunnelClient(identity, options, resolveRoute, loggers.CreateLogger(category))));
        }
        return new GatewayTunnels(tunnels);
    }

    public IReadOnlyList<(string Address, TunnelClient Client)> All => _tunnels;

    /// <summary>Tells every gateway the routes as they are now: names, access rules, custom domains and the domains given up.</summary>
    public void SetRoutes(PeerCompute.Runtime.Routes.RouteTable routes)
    {
        var names = routes.Snapshot().Keys.Order(StringComparer.Ordinal).ToList();
        var access = routes.AccessSnapshot();
        var domains = routes.DomainsSnapshot();
        var released = routes.ReleasedSnapshot();
        foreach (var (_, client) in _tunnels)
            client.SetRoutes(names, access, domains, released);
    }

    /// <summary>
    /// The deployment's public URL: the one of a connected gateway if any, else of one that told its domain before.
    /// Gateways of one zone share the domain and port, so it is the same URL on each.
    /// </summary>
    public string? GetPublicUrl(string deploymentName) =>
        _tunnels.Where(t => t.Client.Status.State == TunnelState.Connected).Select(t => t.Client.GetPublicUrl(deploymentName)).FirstOrDefault(u => u is not null)
        ?? _tunnels.Select(t => t.Client.GetPublicUrl(deploymentName)).FirstOrDefault(u => u is not null);

    /// <summary>Where each of <paramref name="domains"/> stands at each gateway: one entry per domain and gateway, asked of all gateways at once.</summary>
    public async Task<IReadOnlyList<PeerCompute.Core.Protocol.DomainInfo>> QueryDomainsAsync(IReadOnlyList<string> domains, CancellationToken cancellationToken)
    {
        if (domains.Count == 0)
            return [];
        var answers = await Task.WhenAll(_tunnels.Select(t => t.Client.QueryDomainsAsync(domains, cancellationToken))).ConfigureAwait(false);
        var infos = new List<PeerCompute.Core.Protocol.DomainInfo>();
        for (int i = 0; i < _tunnels.Count; i++)
        {
            var (address, client) = _tunnels[i];
            if (answers[i] is not { } states)
            {
                string why = client.Status.State == TunnelState.Connected
                    ? "this gateway does not report custom domains (tunnel protocol 5 or later does)"
                    : "the tunnel to this gateway is not connected";
                infos.AddRange(domains.Select(d => new PeerCompute.Core.Protocol.DomainInfo(d, "unknown", why, address)));
                continue;
            }
            infos.AddRange(states.Select(s => new PeerCompute.Core.Protocol.DomainInfo(s.Domain, StateText(s.State), s.Detail, address, s.CertificateExpires, s.NextAttempt)));
        }
        return infos;
    }

    private static string StateText(PeerCompute.Tunnel.Gateway.DomainState state) => state switch
    {
        PeerCompute.Tunnel.Gateway.DomainState.HeldByAnother => "held_by_another",
        PeerCompute.Tunnel.Gateway.DomainState.WaitingForDns => "waiting_for_dns",
        PeerCompute.Tunnel.Gateway.DomainState.Verified => "verified",
        PeerCompute.Tunnel.Gateway.DomainState.Serving => "serving",
        PeerCompute.Tunnel.Gateway.DomainState.Failed => "failed",
        _ => "not_claimed",
    };

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_tunnels.Select(t => t.Client.RunAsync(cancellationToken)));

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, client) in _tunnels)
            await client.DisposeAsync().ConfigureAwait(false);
    }
}

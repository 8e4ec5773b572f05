using Microsoft.Extensions.Logging;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Tunnel.Client;
using ZLogger;

namespace PeerCompute.Daemon.Hosting;

/// <summary>
/// Keeps the provider reachable through relays: the ones given with <c>--relay</c>, and the gateway's own, which the
/// tunnel handshake names (so <c>--gateway</c> alone is enough). Each is a listen address of the libp2p host, which holds
/// the reservation, renews it and makes it again after the relay or the network comes back. When the gateway offers
/// another relay (a new identity or port), the old reservation is let go and the new one taken.
/// </summary>
internal sealed class ProviderRelays(Libp2pHost host, ILogger log) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, List<Multiaddr>> _fromGateways = new(StringComparer.Ordinal);
    private bool _disposed;

    public async Task AddAsync(IEnumerable<string> relays, CancellationToken cancellationToken)
    {
        foreach (string relay in relays)
        {
            var address = Multiaddr.Parse(relay);
            await host.ListenAsync(address, cancellationToken).ConfigureAwait(false);
            log.ZLogInformation($"relay: reserving on {address.ToString()} (--relay)");
        }
    }

    /// <summary>Follows a gateway's offer; called on every status change of its tunnel (cheap when the offer is the same).</summary>
    /// <param name="gateway">Which gateway (its --gateway address): each one's relay is followed on its own.</param>
    public async Task FollowGatewayAsync(string gateway, TunnelStatus status)
    {
        if (status.State != TunnelState.Connected)
            return; // a gateway that is away keeps its reservation trying to come back by itself
        var offered = status.Relay?.Addresses.Select(a => Multiaddr.Parse(a + "/p2p-circuit")).ToList() ?? [];
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var current = _fromGateways.GetValueOrDefault(gateway) ?? [];
            if (_disposed || offered.SequenceEqual(current))
                return;
            // Another gateway may offer the same relay (gateways sharing one): it stays while any of them offers it.
            var heldByOthers = _fromGateways.Where(g => g.Key != gateway).SelectMany(g => g.Value).ToHashSet();
            foreach (var old in current.Except(offered).Where(a => !heldByOthers.Contains(a)))
            {
                await host.StopListeningAsync(old).ConfigureAwait(false);
                log.ZLogInformation($"relay: the gateway no longer offers {old.ToString()}; reservation let go");
            }
            foreach (var address in offered.Except(current).Where(a => !heldByOthers.Contains(a)))
            {
                try
                {
                    await host.ListenAsync(address).ConfigureAwait(false);
                    log.ZLogInformation($"relay: the gateway offers its relay; reserving on {address.ToString()}");
                }
                catch (ArgumentException e)
                {
                    log.ZLogWarning($"relay: cannot use the gateway's relay {address.ToString()}: {e.Message}");
                }
            }
            _fromGateways[gateway] = offered;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        _disposed = true;
        _gate.Release();
    }
}

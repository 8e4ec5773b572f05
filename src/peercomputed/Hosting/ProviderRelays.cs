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
    private List<Multiaddr> _fromGateway = [];
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

    /// <summary>Follows the gateway's offer; called on every tunnel status change (cheap when the offer is the same).</summary>
    public async Task FollowGatewayAsync(TunnelStatus status)
    {
        if (status.State != TunnelState.Connected)
            return; // a gateway that is away keeps its reservation trying to come back by itself
        var offered = status.Relay?.Addresses.Select(a => Multiaddr.Parse(a + "/p2p-circuit")).ToList() ?? [];
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed || offered.SequenceEqual(_fromGateway))
                return;
            foreach (var old in _fromGateway.Except(offered))
            {
                await host.StopListeningAsync(old).ConfigureAwait(false);
                log.ZLogInformation($"relay: the gateway no longer offers {old.ToString()}; reservation let go");
            }
            foreach (var address in offered.Except(_fromGateway))
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
            _fromGateway = offered;
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

using System.Diagnostics;
using System.Net.Sockets;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using PeerCompute.Net;
using PeerCompute.Net.Host;

namespace PeerCompute.Ctl.Client;

/// <summary>A libp2p connection to one trusted provider, opened for one command.</summary>
internal sealed class ProviderSession : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly Libp2pConnection _connection;

    private ProviderSession(Libp2pHost host, Libp2pConnection connection, ProviderTarget target, PeerIdentity identity)
    {
        _host = host;
        _connection = connection;
        Target = target;
        Client = new ProviderClient(identity, async ct => (await _connection.OpenStreamAsync(ProtocolIds.PeerCompute, ct).ConfigureAwait(false)).Stream);
    }

    public ProviderTarget Target { get; }

    public ProviderClient Client { get; }

    /// <summary>Dials the provider's addresses in turn; Noise proves it is the PeerId we trust.</summary>
    public static async Task<ProviderSession> ConnectAsync(ProviderTarget target, PeerIdentity identity, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var host = new Libp2pHost(identity, new Libp2pHostOptions { IdentifyOnConnect = false });
        var failures = new List<string>();
        foreach (var address in target.Addrs)
        {
            var watch = Stopwatch.StartNew();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(timeout);
            try
            {
                var connection = await host.DialAsync(address, attempt.Token).ConfigureAwait(false);
                return new ProviderSession(host, connection, target, identity);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{address.WithoutPeerId()}: no answer within {timeout.TotalSeconds:0.#} s");
            }
            catch (SocketException ex)
            {
                failures.Add($"{address.WithoutPeerId()}: {ex.Message} (after {watch.Elapsed.TotalSeconds:0.0} s)");
            }
            catch (Libp2pProtocolException ex)
            {
                failures.Add($"{address.WithoutPeerId()}: {ex.Message}");
            }
            catch (IOException ex)
            {
                failures.Add($"{address.WithoutPeerId()}: {ex.Message} (after {watch.Elapsed.TotalSeconds:0.0} s)");
            }
        }
        await host.DisposeAsync().ConfigureAwait(false);
        throw new CliException($"Could not reach provider {target.DisplayName}: {string.Join("; ", failures)}. Is peercomputed running there, and is the address in 'peerctl peers list' right?");
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}

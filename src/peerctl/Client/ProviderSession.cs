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

    /// <summary>
    /// How long peerctl waits, after reaching a provider through a relay, for the provider to begin hole punching (it does
    /// at once when it can), and then for the direct connection; the command goes over the relay when none comes.
    /// </summary>
    public static readonly TimeSpan HolePunchStartWait = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan HolePunchWait = TimeSpan.FromSeconds(1.5);

    public ProviderTarget Target { get; }

    public ProviderClient Client { get; }

    /// <summary>How long a direct address may take before the next one (and then the relayed ones) is tried.</summary>
    public static readonly TimeSpan DirectDialTimeout = TimeSpan.FromSeconds(3);

    /// <summary>How the connection reached the provider: <c>direct</c>, <c>relay</c> or <c>hole-punched</c> (the --json field <c>via</c>).</summary>
    public string Via => _connection.IsRelayed ? "relay" : _connection.HolePunched ? "hole-punched" : "direct";

    /// <summary>The relay's address when the connection runs through one.</summary>
    public string? Relay => _connection.IsRelayed && _connection.RemoteAddress.TryGetRelay(out var relay, out _, out _) ? relay.ToString() : null;

    /// <summary>The relayed connection under this session, when there is one: it knows the relay's limits.</summary>
    public Net.Relay.RelayedStream? Circuit => _connection.Relayed;

    /// <summary>
    /// Dials the provider's direct addresses first, each within <see cref="DirectDialTimeout"/>, then its relayed ones
    /// (…/p2p/&lt;relay&gt;/p2p-circuit/p2p/&lt;provider&gt;) within <paramref name="timeout"/>; Noise proves it is the
    /// PeerId we trust either way (the relay sees ciphertext only).
    /// </summary>
    /// <param name="paths">What earlier hole punches with the provider gave; after a recent failure peerctl does not wait for one.</param>
    /// <param name="trusted">The target comes from the trust list (its errors may suggest changing the entry).</param>
    public static async Task<ProviderSession> ConnectAsync(ProviderTarget target, PeerIdentity identity, TimeSpan timeout, CancellationToken cancellationToken,
        PathMemory? paths = null, bool trusted = true)
    {
        // It listens on a port of its own while the command runs, and dials from it: behind a NAT, that is the port the
        // relay observes, and the one a hole punch needs.
        var host = new Libp2pHost(identity, new Libp2pHostOptions { IdentifyOnConnect = false, EnableHolePunching = true });
        await ListenForHolePunchingAsync(host).ConfigureAwait(false);
        var failures = new List<string>();
        var impostors = new List<string>();
        var ordered = target.Addrs.Where(a => !a.IsRelayed).Concat(target.Addrs.Where(a => a.IsRelayed)).ToList();
        bool anyRelayed = ordered.Any(a => a.IsRelayed);
        foreach (var address in ordered)
        {
            var watch = Stopwatch.StartNew();
            var limit = address.IsRelayed || !anyRelayed ? timeout : Min(DirectDialTimeout, timeout);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(limit);
            string shown = address.IsRelayed ? $"{address.WithoutPeerId()} (relayed)" : address.WithoutPeerId().ToString();
            try
            {
                var connection = await host.DialAsync(address, attempt.Token).ConfigureAwait(false);
                if (connection.IsRelayed)
                    connection = await AwaitHolePunchAsync(host, connection, paths, cancellationToken).ConfigureAwait(false);
                return new ProviderSession(host, connection, target, identity);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{shown}: no answer within {limit.TotalSeconds:0.#} s");
            }
            catch (Net.Relay.RelayRefusedException ex)
            {
                failures.Add($"{shown}: {ex.Message}");
            }
            catch (SocketException ex)
            {
                failures.Add($"{shown}: {ex.Message} (after {watch.Elapsed.TotalSeconds:0.0} s)");
            }
            catch (Libp2pProtocolException ex) when (ex.ActualPeer is { } actual)
            {
                impostors.Add($"the peer at {shown} is {actual}, not the {target.PeerId} in your trust list");
            }
            catch (Libp2pProtocolException ex)
            {
                failures.Add($"{shown}: {ex.Message}");
            }
            catch (IOException ex)
            {
                failures.Add($"{shown}: {ex.Message} (after {watch.Elapsed.TotalSeconds:0.0} s)");
            }
            catch (TimeoutException ex)
            {
                failures.Add($"{shown}: {ex.Message}");
            }
        }
        await host.DisposeAsync().ConfigureAwait(false);
        if (impostors.Count > 0)
        {
            // The address answered and proved another identity: the id is what is wrong (a typo in its last characters
            // still makes a valid id), or another provider took that address.
            string others = failures.Count == 0 ? "" : $" (other addresses: {string.Join("; ", failures)})";
            bool named = target.DisplayName != target.PeerId.ToString();
            throw new CliException(
                $"{Capitalise(string.Join("; ", impostors))}{others}. Check the id with the provider ('peercomputed id' there)" +
                (trusted ? $"; if the one in your trust list has a typo, replace it: peerctl peers remove {target.DisplayName}, then peerctl peers add <the right id>{(named ? $" --name {target.DisplayName}" : "")} --addr <address> --verify." : "."));
        }
        throw new CliException($"Could not reach provider {target.DisplayName}: {string.Join("; ", failures)}. Is peercomputed running there, and is the address in 'peerctl peers list' right?");
    }

    /// <summary>
    /// Why the connection broke, when the relay it ran through cut it at one of the limits it announced (the relay sends
    /// no reason: the limit is recognised from what the circuit carried and how long it lived); null otherwise.
    /// </summary>
    public string? RelayLimitReached() => Circuit?.LimitReached();

    private static string Capitalise(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static async Task ListenForHolePunchingAsync(Libp2pHost host)
    {
        foreach (string any in new[] { "/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0" })
        {
            try
            {
                await host.ListenAsync(Core.Multiformats.Multiaddr.Parse(any)).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // No IPv6 here (or no IPv4): dials of that family leave from a fresh port, as without hole punching.
            }
        }
    }

    /// <summary>
    /// The provider (which received the relayed connection) starts hole punching when it can; this waits a moment for it
    /// and returns the direct connection when there is one, else the relayed one.
    /// </summary>
    private static async Task<Libp2pConnection> AwaitHolePunchAsync(Libp2pHost host, Libp2pConnection relayed, PathMemory? paths, CancellationToken cancellationToken)
    {
        if (host.HolePunch is not { } punch)
            return relayed;
        var peer = relayed.RemotePeer;
        var outcome = punch.OutcomeAsync(peer);
        var started = punch.StartedAsync(peer);
        if (host.GetConnection(peer) is { IsRelayed: false } already)
            return already;
        if (paths?.RecentlyFailed(peer.ToString(), DateTimeOffset.UtcNow) == true)
            return relayed; // the last one failed: this path's NAT defeats it; the provider still tries in the background
        try
        {
            await started.WaitAsync(HolePunchStartWait, cancellationToken).ConfigureAwait(false);
            await outcome.WaitAsync(HolePunchWait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // No hole punch began, or it did not finish in time: the relay carries the command.
        }
        var direct = host.GetConnection(peer) is { IsRelayed: false } found ? found : null;
        if (started.IsCompleted)
            paths?.Remember(peer.ToString(), direct is not null, DateTimeOffset.UtcNow);
        return direct ?? relayed;
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}

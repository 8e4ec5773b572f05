using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;

namespace PeerCompute.Net.HolePunch;

/// <summary>How one hole punch ended.</summary>
/// <param name="Direct">The direct connection it made; null when it failed.</param>
/// <param name="Reason">Why it failed; null on success.</param>
public sealed record HolePunchOutcome(PeerId Peer, Libp2pConnection? Direct, string? Reason, int Attempts)
{
    public bool Succeeded => Direct is not null;
}

/// <summary>
/// DCUtR (<c>/libp2p/dcutr</c>, both roles): upgrades a relayed connection to a direct one. The side that received the
/// relayed connection (B) opens the stream and sends CONNECT with the addresses peers observe for it (identify's
/// observed address), timing the round trip until A's CONNECT comes back with A's; then B sends SYNC. A dials B's
/// addresses as soon as SYNC arrives, B dials A's after half the round trip: through two NATs that keep a port's mapping
/// (endpoint-independent), both SYNs leave before either arrives and the two dials meet as one TCP simultaneous open.
/// Outgoing sockets leave from the listening port (<see cref="Libp2pHostOptions.ReuseListenPort"/>), the port the NAT
/// mapping was observed for. On the direct connection A is the client and B the server of multistream, Noise and yamux,
/// whoever's SYN went first. Up to <see cref="Libp2pHostOptions.HolePunchAttempts"/> tries; streams already open stay
/// on the relay (they are not moved), new ones take the direct connection.
/// A host punches only towards peers it trusts (B) or peers it dialled itself (A): a stranger cannot make it dial
/// addresses of the stranger's choosing. Loopback, unspecified and multicast addresses are never dialled.
/// </summary>
public sealed class HolePunchService
{
    private const int MaxAddresses = 8;
    private readonly Libp2pHost _host;
    private readonly Func<PeerId, bool> _isTrusted;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, TaskCompletionSource<HolePunchOutcome>> _outcomes = [];
    private readonly Dictionary<PeerId, TaskCompletionSource<bool>> _started = [];

    internal HolePunchService(Libp2pHost host, Func<PeerId, bool> isTrusted, ILogger logger)
    {
        _host = host;
        _isTrusted = isTrusted;
        _logger = logger;
    }

    /// <summary>A hole punch with a peer ended (either role).</summary>
    public event Action<HolePunchOutcome>? Completed;

    /// <summary>
    /// The next outcome of a hole punch with <paramref name="peer"/> (the one under way, or the next to start), for a caller
    /// that wants to use the direct connection when there will be one.
    /// </summary>
    public Task<HolePunchOutcome> OutcomeAsync(PeerId peer)
    {
        lock (_lock)
            return Slot(_outcomes, peer).Task;
    }

    /// <summary>Completes when a hole punch with <paramref name="peer"/> has begun (the first message went or came).</summary>
    public Task StartedAsync(PeerId peer)
    {
        lock (_lock)
            return Slot(_started, peer).Task;
    }

    /// <summary>B's role: called for each new relayed connection the host received.</summary>
    internal void OnConnection(Libp2pConnection connection)
    {
        if (!connection.IsRelayed || connection.IsOutbound || !_isTrusted(connection.RemotePeer))
            return;
        _ = Task.Run(() => InitiateAsync(connection));
    }

    // ---- B: the side that received the relayed connection ----

    private async Task InitiateAsync(Libp2pConnection relayed)
    {
        var peer = relayed.RemotePeer;
        string? reason = "no attempt";
        int attempt = 0;
        while (attempt < _host.Options.HolePunchAttempts && !relayed.IsClosed)
        {
            attempt++;
            try
            {
                var own = await OwnAddressesAsync(relayed).ConfigureAwait(false);
                if (own.Count == 0)
                {
                    reason = "no address of ours has been observed by a peer (identify): nothing to punch towards";
                    break;
                }
                Libp2pStream stream;
                try
                {
                    stream = await relayed.OpenStreamAsync(HolePunchMessage.ProtocolId, CancellationToken.None).WaitAsync(_host.Options.StreamNegotiationTimeout).ConfigureAwait(false);
                }
                catch (Libp2pProtocolException)
                {
                    reason = $"the peer does not speak {HolePunchMessage.ProtocolId}";
                    break;
                }
                await using var _ = stream.ConfigureAwait(false);
                MarkStarted(peer);
                var clock = Stopwatch.StartNew();
                await DelimitedMessage.WriteAsync(stream.Stream, new HolePunchMessage(HolePunchType.Connect, own).Encode(), CancellationToken.None).ConfigureAwait(false);
                var answer = await ReadAsync(stream.Stream, HolePunchType.Connect).ConfigureAwait(false);
                var rtt = clock.Elapsed;
                // A dials as soon as SYNC arrives: watch for its connection from here on.
                using var arriving = new DirectConnectionWatch(_host, peer);
                await DelimitedMessage.WriteAsync(stream.Stream, new HolePunchMessage(HolePunchType.Sync, []).Encode(), CancellationToken.None).ConfigureAwait(false);
                var targets = Dialable(answer.ObservedAddresses);
                if (targets.Count == 0)
                {
                    reason = "the peer sent no address we can dial";
                    break;
                }
                await Task.Delay(rtt / 2).ConfigureAwait(false);
                if (await DialAnyAsync(targets, peer, asClient: false, arriving).ConfigureAwait(false) is { } direct)
                {
                    Finish(new HolePunchOutcome(peer, direct, null, attempt));
                    return;
                }
                reason = $"the simultaneous dial of {string.Join(", ", targets)} did not connect";
            }
            catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or Libp2pProtocolException or MuxProtocolException)
            {
                reason = e.Message;
            }
        }
        Finish(new HolePunchOutcome(peer, null, reason, attempt));
    }

    // ---- A: the side that dialled through the relay ----

    /// <summary>The <c>/libp2p/dcutr</c> handler: only on a relayed connection this host dialled.</summary>
    internal async Task HandleAsync(Libp2pStream stream, CancellationToken cancellationToken)
    {
        var relayed = stream.Connection;
        var peer = relayed.RemotePeer;
        if (!relayed.IsRelayed || !relayed.IsOutbound)
            return; // not ours to answer: the stream is closed without a word
        MarkStarted(peer);
        try
        {
            var connect = await ReadAsync(stream.Stream, HolePunchType.Connect).ConfigureAwait(false);
            var own = await OwnAddressesAsync(relayed).ConfigureAwait(false);
            await DelimitedMessage.WriteAsync(stream.Stream, new HolePunchMessage(HolePunchType.Connect, own).Encode(), cancellationToken).ConfigureAwait(false);
            _ = await ReadAsync(stream.Stream, HolePunchType.Sync).ConfigureAwait(false);
            using var arriving = new DirectConnectionWatch(_host, peer);
            var targets = Dialable(connect.ObservedAddresses);
            var direct = targets.Count == 0 ? null : await DialAnyAsync(targets, peer, asClient: true, arriving).ConfigureAwait(false);
            // B decides whether to try again (each try is a new stream); A reports each try, so a caller waiting for a
            // direct connection goes on over the relay after the first one that failed.
            Finish(direct is not null
                ? new HolePunchOutcome(peer, direct, null, 1)
                : new HolePunchOutcome(peer, null, targets.Count == 0 ? "the peer sent no address we can dial" : $"the simultaneous dial of {string.Join(", ", targets)} did not connect", 1));
        }
        catch (Exception e) when (e is IOException or TimeoutException or Libp2pProtocolException or MuxProtocolException)
        {
            Finish(new HolePunchOutcome(peer, null, e.Message, 1));
        }
    }

    // ---- both ----

    /// <summary>
    /// Dials every target at once in the given role; the first connection up wins, the others are closed. A direct
    /// connection the peer opens to us meanwhile (<paramref name="arriving"/>) wins too: with no NAT in between, or a NAT
    /// that lets it in, the peer's dial reaches our listener as a plain inbound connection instead of meeting ours in one
    /// simultaneous open, and ours may then never finish (both ends in the same role of the upgrade).
    /// </summary>
    private async Task<Libp2pConnection?> DialAnyAsync(IReadOnlyList<Multiaddr> targets, PeerId peer, bool asClient, DirectConnectionWatch arriving)
    {
        using var timeout = new CancellationTokenSource(_host.Options.HolePunchDialTimeout);
        var dials = targets.Select(t => _host.DialHolePunchedAsync(t, peer, asClient, timeout.Token)).ToList();
        Libp2pConnection? winner = null;
        var inbound = arriving.Connection;
        while (dials.Count > 0)
        {
            var done = await Task.WhenAny([.. dials, inbound]).ConfigureAwait(false);
            if (done == inbound)
            {
                if (winner is null)
                {
                    winner = inbound.Result;
                    await timeout.CancelAsync().ConfigureAwait(false);
                }
                inbound = new TaskCompletionSource<Libp2pConnection>().Task; // never again
                continue;
            }
            dials.Remove(done);
            if (done.IsCompletedSuccessfully)
            {
                if (winner is null)
                {
                    winner = done.Result;
                    await timeout.CancelAsync().ConfigureAwait(false);
                }
                else
                {
                    await done.Result.DisposeAsync().ConfigureAwait(false);
                }
            }
            else
            {
                _ = done.Exception; // observed: a failed dial of one address is expected
            }
        }
        return winner;
    }

    /// <summary>A direct connection (not one of our hole-punch dials) that <c>peer</c> opens to us while it is watched.</summary>
    private sealed class DirectConnectionWatch : IDisposable
    {
        private readonly Libp2pHost _host;
        private readonly PeerId _peer;
        private readonly TaskCompletionSource<Libp2pConnection> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DirectConnectionWatch(Libp2pHost host, PeerId peer)
        {
            _host = host;
            _peer = peer;
            _host.ConnectionOpened += OnOpened;
        }

        public Task<Libp2pConnection> Connection => _opened.Task;

        private void OnOpened(Libp2pConnection connection)
        {
            if (connection.RemotePeer == _peer && !connection.IsRelayed && !connection.HolePunched)
                _opened.TrySetResult(connection);
        }

        public void Dispose() => _host.ConnectionOpened -= OnOpened;
    }

    /// <summary>
    /// Where peers see us: the observed addresses identify reported. When none is known yet, the relay (on whose connection
    /// the circuit runs) is asked once.
    /// </summary>
    private async Task<IReadOnlyList<Multiaddr>> OwnAddressesAsync(Libp2pConnection relayed)
    {
        var known = _host.ObservedAddresses;
        if (known.Count > 0 || !relayed.RemoteAddress.TryGetRelay(out _, out var relayId, out _))
            return known;
        if (_host.GetConnection(relayId) is { } toRelay)
        {
            try
            {
                await _host.IdentifyAsync(toRelay).WaitAsync(_host.Options.StreamNegotiationTimeout).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException or Libp2pProtocolException or MuxProtocolException or OperationCanceledException)
            {
            }
        }
        return _host.ObservedAddresses;
    }

    private static async Task<HolePunchMessage> ReadAsync(Stream stream, HolePunchType expected)
    {
        var body = await DelimitedMessage.ReadAsync(stream, HolePunchMessage.MaxSize, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (!HolePunchMessage.TryDecode(body, out var message, out string? error))
            throw new Libp2pProtocolException($"dcutr: malformed message ({error})");
        if (message.Type != expected)
            throw new Libp2pProtocolException($"dcutr: expected {expected}, got {message.Type}");
        return message;
    }

    /// <summary>Direct TCP addresses only, never loopback, unspecified or multicast, at most <see cref="MaxAddresses"/>.</summary>
    internal static List<Multiaddr> Dialable(IEnumerable<Multiaddr> addresses) =>
    [
        .. addresses
            .Where(a => !a.IsRelayed && a.TryGetTcpTarget(out string host, out int port) && port != 0
                && IPAddress.TryParse(host, out var ip) && !IPAddress.IsLoopback(ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)
                && !(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ip.GetAddressBytes()[0] >= 224 : ip.IsIPv6Multicast))
            .Select(a => a.WithoutPeerId())
            .Distinct()
            .Take(MaxAddresses),
    ];

    private void MarkStarted(PeerId peer)
    {
        lock (_lock)
            Slot(_started, peer).TrySetResult(true);
    }

    private void Finish(HolePunchOutcome outcome)
    {
        TaskCompletionSource<HolePunchOutcome> slot;
        lock (_lock)
        {
            slot = Slot(_outcomes, outcome.Peer);
            _outcomes.Remove(outcome.Peer);
            _started.Remove(outcome.Peer);
        }
        slot.TrySetResult(outcome);
        if (outcome.Succeeded)
            _logger.LogInformation("dcutr: direct connection to {Peer} by hole punching ({Address})", outcome.Peer, outcome.Direct!.RemoteAddress);
        else
            _logger.LogInformation("dcutr: no direct connection to {Peer} after {Attempts} tries: {Reason}; staying on the relay", outcome.Peer, outcome.Attempts, outcome.Reason);
        try
        {
            Completed?.Invoke(outcome);
        }
        catch (Exception)
        {
        }
    }

    private static TaskCompletionSource<T> Slot<T>(Dictionary<PeerId, TaskCompletionSource<T>> table, PeerId peer)
    {
        if (!table.TryGetValue(peer, out var slot))
            table[peer] = slot = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        return slot;
    }
}

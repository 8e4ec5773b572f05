using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Relay;

/// <summary>What one relay reservation looks like now (for status output and logs).</summary>
/// <param name="Relay">The relay's address, ending in <c>/p2p/&lt;relay&gt;</c>.</param>
/// <param name="Address">Where others reach us through it: <c>…/p2p/&lt;relay&gt;/p2p-circuit</c> (add <c>/p2p/&lt;us&gt;</c>).</param>
/// <param name="Expires">When the current reservation ends unless renewed; null while there is none.</param>
/// <param name="Limit">The limit the relay puts on each circuit; null when it announced none.</param>
/// <param name="LastError">Why the last attempt failed; null once reserved.</param>
public sealed record RelayReservationState(Multiaddr Relay, Multiaddr Address, DateTimeOffset? Expires, RelayLimit? Limit, string? LastError)
{
    public bool IsReserved => Expires is { } e && e > DateTimeOffset.UtcNow;
}

/// <summary>
/// Listening "on" a relay: holds a reservation there for as long as it is not disposed. It connects, reserves, renews
/// before expiry, and when the connection goes (the relay restarted, the network changed, the link died and yamux's
/// keep-alive noticed) it connects and reserves again with backoff. Circuits the relay brings arrive through
/// <see cref="CircuitTransport.HandleStopAsync"/> and are accepted here like TCP connections.
/// </summary>
internal sealed class RelayReservationListener : ITransportListener
{
    /// <summary>Retries after a failure wait from this long, doubling up to <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Libp2pHost _host;
    private readonly ILogger _logger;
    private readonly Action<RelayReservationListener> _removed;
    private readonly Channel<TransportConnection> _accepted = Channel.CreateBounded<TransportConnection>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private RelayReservationState _state;
    private Task _run = Task.CompletedTask;

    public RelayReservationListener(Libp2pHost host, Multiaddr relayAddress, PeerId relay, ILogger logger, Action<RelayReservationListener> removed)
    {
        _host = host;
        _logger = logger;
        _removed = removed;
        Relay = relay;
        RelayAddress = relayAddress.WithPeerId(relay);
        CircuitAddress = Multiaddr.Parse(RelayAddress + "/p2p-circuit");
        _state = new RelayReservationState(RelayAddress, CircuitAddress, null, null, null);
    }

    public PeerId Relay { get; }

    public Multiaddr RelayAddress { get; }

    /// <summary>The relayed address without our own PeerId.</summary>
    public Multiaddr CircuitAddress { get; }

    public Multiaddr Address => CircuitAddress;

    public RelayReservationState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    public bool IsReserved => State.IsReserved;

    public IReadOnlyList<Multiaddr> ReachableAddresses => IsReserved ? [CircuitAddress] : [];

    /// <summary>The reservation was made, renewed or lost (for logs and re-announcing addresses).</summary>
    public event Action<RelayReservationState>? Changed;

    public void Start() => _run = Task.Run(RunAsync);

    public async ValueTask<TransportConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(RelayReservationListener));
        }
    }

    /// <summary>Hands an accepted circuit to the host's accept loop; false when it is full or stopped.</summary>
    public bool Deliver(TransportConnection connection) => _accepted.Writer.TryWrite(connection);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        _removed(this);
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        while (_accepted.Reader.TryRead(out var pending))
            await pending.DisposeAsync().ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var backoff = MinBackoff;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var connection = await _host.DialAsync(RelayAddress, token).ConfigureAwait(false);
                var expires = await ReserveAsync(connection, token).ConfigureAwait(false);
                backoff = MinBackoff;
                while (true)
                {
                    // Renew at three quarters of what is left (at least 5 s ahead), or start over when the connection goes.
                    var left = expires - DateTimeOffset.UtcNow;
                    var renewIn = TimeSpan.FromTicks(Math.Max(left.Ticks * 3 / 4, TimeSpan.TicksPerSecond * 5));
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
                    var closed = connection.Closed.WaitAsync(renewIn, wait.Token);
                    try
                    {
                        await closed.ConfigureAwait(false);
                        break; // the connection ended: connect and reserve again
                    }
                    catch (TimeoutException)
                    {
                    }
                    expires = await ReserveAsync(connection, token).ConfigureAwait(false);
                }
                Update(null, null, "the connection to the relay closed");
                _logger.LogWarning("relay: lost the reservation on {Relay} (connection closed); reserving again", RelayAddress);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Update(null, null, e.Message);
                _logger.LogWarning("relay: cannot reserve on {Relay}: {Reason}; next try in {Seconds:0} s", RelayAddress, e.Message, backoff.TotalSeconds);
            }
            try
            {
                // Jitter, so providers that lost one relay together do not come back in one burst.
                var delay = backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)(backoff.TotalMilliseconds / 4) + 1));
                await Task.Delay(delay, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>One RESERVE on <paramref name="connection"/>; returns when it expires. Throws with the relay's reason.</summary>
    private async Task<DateTimeOffset> ReserveAsync(Libp2pConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_host.Options.HandshakeTimeout);
        Libp2pStream hop;
        try
        {
            hop = await connection.OpenStreamAsync(RelayProtocol.Hop, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Libp2pProtocolException or MuxProtocolException)
        {
            throw new RelayRefusedException($"{Relay} is not a relay (it does not serve {RelayProtocol.Hop})", null, e);
        }
        await using var _ = hop.ConfigureAwait(false);
        await DelimitedMessage.WriteAsync(hop.Stream, new HopMessage(HopMessageType.Reserve).Encode(), timeout.Token).ConfigureAwait(false);
        var body = await DelimitedMessage.ReadAsync(hop.Stream, RelayProtocol.MaxMessageSize, timeout.Token).ConfigureAwait(false);
        if (!HopMessage.TryDecode(body, out var answer, out string? error) || answer.Type != HopMessageType.Status)
            throw new RelayRefusedException($"the relay answered RESERVE with a malformed message ({error ?? answer?.Type.ToString()})", RelayStatus.MalformedMessage);
        if (answer.Status != RelayStatus.Ok)
            throw new RelayRefusedException($"the relay refused the reservation: {CircuitTransport.Describe(answer.Status)}", answer.Status);
        if (answer.Reservation is not { } reservation)
            throw new RelayRefusedException("the relay said OK to RESERVE but sent no reservation", RelayStatus.MalformedMessage);
        if (reservation.Voucher is { Length: > 0 } voucher)
        {
            if (!ReservationVoucher.TryOpen(voucher, out var opened, out string? why))
                throw new RelayRefusedException($"the relay's reservation voucher does not verify: {why}", RelayStatus.MalformedMessage);
            if (opened.Relay != Relay || opened.Peer != _host.PeerId)
                throw new RelayRefusedException("the relay's reservation voucher names another relay or peer", RelayStatus.MalformedMessage);
        }
        var expires = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(reservation.ExpireUnixSeconds, (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds() - 1));
        if (expires <= DateTimeOffset.UtcNow)
            throw new RelayRefusedException("the relay granted a reservation that has already expired (is its clock right?)", RelayStatus.ReservationRefused);
        bool renewed = State.IsReserved;
        Update(expires, answer.Limit, null);
        if (!renewed)
            _logger.LogInformation("relay: reserved on {Relay} until {Expires:u}; reachable at {Address}/p2p/{Self}", RelayAddress, expires, CircuitAddress, _host.PeerId);
        return expires;
    }

    private void Update(DateTimeOffset? expires, RelayLimit? limit, string? error)
    {
        RelayReservationState state;
        lock (_lock)
            state = _state = _state with { Expires = expires, Limit = limit, LastError = error };
        try
        {
            Changed?.Invoke(state);
        }
        catch (Exception)
        {
        }
    }
}

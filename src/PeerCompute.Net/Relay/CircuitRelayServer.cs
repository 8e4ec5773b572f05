using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Limits;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;

namespace PeerCompute.Net.Relay;

/// <summary>
/// The relay side of libp2p circuit relay v2 (<c>/libp2p/circuit/relay/0.2.0/hop</c>) on a <see cref="Libp2pHost"/>.
/// A peer that <see cref="CircuitRelayOptions.MayReserve"/> lets in reserves: it gets a signed voucher, the relay's
/// addresses and the circuit limit, and its connection is kept open for as long as the reservation lasts. Anyone may
/// then CONNECT to a reserved peer: the relay opens <c>/libp2p/circuit/relay/0.2.0/stop</c> on the reserved peer's
/// connection, and once that peer accepts, carries the bytes both ways (<see cref="CircuitSplice"/>) within the limits.
/// The two ends run Noise over the circuit, so the relay sees ciphertext only, and the reserved peer decides by its own
/// trust rules whom it talks to. A reservation ends when it expires or its connection closes.
/// </summary>
public sealed class CircuitRelayServer : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly CircuitRelayOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, Reservation> _reservations = [];
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private long _circuitsOpened;
    private long _bytesRelayed;

    public CircuitRelayServer(Libp2pHost host, CircuitRelayOptions options, ILogger? logger = null)
    {
        options.Validate();
        _host = host;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        host.SetStreamHandler(RelayProtocol.Hop, HandleHopAsync);
    }

    /// <summary>Reservations held now.</summary>
    public int ReservationCount
    {
        get
        {
            lock (_lock)
                return _reservations.Count;
        }
    }

    /// <summary>Circuits open now, all reservations together.</summary>
    public int CircuitCount
    {
        get
        {
            lock (_lock)
                return _reservations.Values.Sum(r => r.Circuits);
        }
    }

    /// <summary>Circuits opened since start.</summary>
    public long CircuitsOpened => Interlocked.Read(ref _circuitsOpened);

    /// <summary>Bytes carried by circuits that have ended, both directions (a circuit adds its bytes when it ends).</summary>
    public long BytesRelayed => Interlocked.Read(ref _bytesRelayed);

    /// <summary>Whether <paramref name="peer"/> holds a reservation now.</summary>
    public bool HasReservation(PeerId peer)
    {
        lock (_lock)
            return _reservations.TryGetValue(peer, out var r) && !r.Expired;
    }

    /// <summary>A circuit ended (for logs and metrics): caller, target, how, and how long it lasted.</summary>
    public event Action<PeerId, PeerId, CircuitEnd, TimeSpan>? CircuitClosed;

    public async ValueTask DisposeAsync()
    {
        _host.RemoveStreamHandler(RelayProtocol.Hop);
        await _shutdown.CancelAsync().ConfigureAwait(false);
        List<Reservation> all;
        lock (_lock)
        {
            all = [.. _reservations.Values];
            _reservations.Clear();
            _perAddress.Clear();
        }
        foreach (var reservation in all)
            reservation.Dispose();
    }

    private async Task HandleHopAsync(Libp2pStream stream, CancellationToken cancellationToken)
    {
        HopMessage? request = null;
        try
        {
            var body = await DelimitedMessage.ReadAsync(stream.Stream, RelayProtocol.MaxMessageSize, cancellationToken).ConfigureAwait(false);
            HopMessage.TryDecode(body, out request, out _);
        }
        catch (Libp2pProtocolException)
        {
        }
        switch (request?.Type)
        {
            case null:
                await ReplyAsync(stream, RelayStatus.MalformedMessage, cancellationToken).ConfigureAwait(false);
                return;
            case HopMessageType.Reserve:
                await ReserveAsync(stream, cancellationToken).ConfigureAwait(false);
                return;
            case HopMessageType.Connect:
                await ConnectAsync(stream, request, cancellationToken).ConfigureAwait(false);
                return;
            default:
                await ReplyAsync(stream, RelayStatus.UnexpectedMessage, cancellationToken).ConfigureAwait(false);
                return;
        }
    }

    // ---- reservations ----

    private async Task ReserveAsync(Libp2pStream stream, CancellationToken cancellationToken)
    {
        var connection = stream.Connection;
        var peer = connection.RemotePeer;
        if (connection.IsRelayed)
        {
            await ReplyAsync(stream, RelayStatus.PermissionDenied, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!_options.MayReserve(peer))
        {
            _logger.LogInformation("relay: reservation refused to {Peer}: not a provider this gateway accepts", peer);
            await ReplyAsync(stream, RelayStatus.PermissionDenied, cancellationToken).ConfigureAwait(false);
            return;
        }
        var expires = DateTimeOffset.UtcNow + _options.ReservationTtl;
        var status = Admit(peer, connection, expires);
        if (status != RelayStatus.Ok)
        {
            _logger.LogInformation("relay: reservation refused to {Peer}: {Status}", peer, status);
            await ReplyAsync(stream, status, cancellationToken).ConfigureAwait(false);
            return;
        }
        ulong expire = (ulong)expires.ToUnixTimeSeconds();
        var voucher = new ReservationVoucher(_host.PeerId, peer, expire).Seal(_host.Identity).Encode();
        var addresses = (_options.AnnouncedAddresses ?? _host.ListenAddresses).Select(a => a.WithPeerId(_host.PeerId)).ToList();
        var answer = new HopMessage(HopMessageType.Status, Reservation: new RelayReservation(expire, addresses, voucher),
            Limit: _options.CircuitLimit, Status: RelayStatus.Ok);
        await WriteAsync(stream, answer.Encode(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes in (or renews) <paramref name="peer"/>'s reservation on <paramref name="connection"/>.</summary>
    private RelayStatus Admit(PeerId peer, Libp2pConnection connection, DateTimeOffset expires)
    {
        string address = AddressKey.For(connection.RemoteAddress);
        Reservation? replaced = null;
        Reservation reservation;
        lock (_lock)
        {
            if (_reservations.TryGetValue(peer, out var existing) && existing.Connection == connection)
            {
                existing.Expires = expires;
                return RelayStatus.Ok;
            }
            bool renewing = existing is not null;
            if (!renewing && _reservations.Count >= _options.MaxReservations)
                return RelayStatus.ResourceLimitExceeded;
            _perAddress.TryGetValue(address, out int fromAddress);
            if ((!renewing || existing!.Address != address) && fromAddress >= _options.MaxReservationsPerAddress)
                return RelayStatus.ResourceLimitExceeded;
            if (existing is not null)
            {
                // The peer reserved again on a new connection (its old one is stale): the new one wins.
                replaced = existing;
                Forget(existing);
            }
            var bandwidth = _options.BytesPerSecondPerPeer is { } rate ? CircuitSplice.Bandwidth(rate) : null;
            reservation = new Reservation(peer, connection, address, expires, connection.KeepOpen(), bandwidth);
            _reservations[peer] = reservation;
            _perAddress[address] = fromAddress + 1;
        }
        replaced?.Dispose();
        _ = connection.Closed.ContinueWith(_ => Remove(reservation), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _logger.LogInformation("relay: {Peer} reserved from {Address} until {Expires:u}", peer, connection.RemoteAddress, expires);
        return RelayStatus.Ok;
    }

    private void Remove(Reservation reservation)
    {
        lock (_lock)
        {
            if (!_reservations.TryGetValue(reservation.Peer, out var current) || current != reservation)
                return;
            Forget(reservation);
        }
        reservation.Dispose();
    }

    /// <summary>Drops a reservation from the tables; the caller holds the lock and disposes it after.</summary>
    private void Forget(Reservation reservation)
    {
        _reservations.Remove(reservation.Peer);
        if (_perAddress.TryGetValue(reservation.Address, out int count))
        {
            if (count <= 1)
                _perAddress.Remove(reservation.Address);
            else
                _perAddress[reservation.Address] = count - 1;
        }
    }

    // ---- circuits ----

    private async Task ConnectAsync(Libp2pStream stream, HopMessage request, CancellationToken cancellationToken)
    {
        var caller = stream.RemotePeer;
        if (request.Peer is not { } wanted)
        {
            await ReplyAsync(stream, RelayStatus.MalformedMessage, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (stream.Connection.IsRelayed)
        {
            // No circuits over circuits: a relayed caller would make this relay a hop in a chain nobody bounded.
            await ReplyAsync(stream, RelayStatus.PermissionDenied, cancellationToken).ConfigureAwait(false);
            return;
        }
        Reservation? reservation;
        var status = RelayStatus.Ok;
        lock (_lock)
        {
            if (!_reservations.TryGetValue(wanted.Id, out reservation) || reservation.Expired)
                status = RelayStatus.NoReservation;
            else if (reservation.Circuits >= _options.MaxCircuitsPerReservation)
                status = RelayStatus.ResourceLimitExceeded;
            else
                reservation.Circuits++;
        }
        if (status != RelayStatus.Ok)
        {
            await ReplyAsync(stream, status, cancellationToken).ConfigureAwait(false);
            return;
        }
        try
        {
            await CircuitAsync(stream, caller, reservation!, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
                reservation!.Circuits--;
        }
    }

    private async Task CircuitAsync(Libp2pStream stream, PeerId caller, Reservation reservation, CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
        var limit = _options.CircuitLimit;
        YamuxStream target;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(both.Token);
            timeout.CancelAfter(_options.StopTimeout);
            var stop = await reservation.Connection.OpenStreamAsync(RelayProtocol.Stop, timeout.Token).ConfigureAwait(false);
            target = stop.Stream;
            try
            {
                var connect = new StopMessage(StopMessageType.Connect, Peer: new RelayPeer(caller, []), Limit: limit);
                await DelimitedMessage.WriteAsync(target, connect.Encode(), timeout.Token).ConfigureAwait(false);
                var body = await DelimitedMessage.ReadAsync(target, RelayProtocol.MaxMessageSize, timeout.Token).ConfigureAwait(false);
                if (!StopMessage.TryDecode(body, out var answer, out _) || answer.Type != StopMessageType.Status || answer.Status != RelayStatus.Ok)
                {
                    target.Reset();
                    _logger.LogInformation("relay: {Target} refused a circuit from {Caller} ({Status})", reservation.Peer, caller, answer?.Status);
                    await ReplyAsync(stream, RelayStatus.ConnectionFailed, cancellationToken).ConfigureAwait(false);
                    return;
                }
            }
            catch
            {
                target.Reset();
                throw;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or Libp2pProtocolException or MuxProtocolException or ObjectDisposedException)
        {
            await ReplyAsync(stream, RelayStatus.ConnectionFailed, cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await WriteAsync(stream, new HopMessage(HopMessageType.Status, Limit: limit, Status: RelayStatus.Ok).Encode(), both.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or MuxProtocolException or ObjectDisposedException)
        {
            target.Reset();
            throw;
        }
        Interlocked.Increment(ref _circuitsOpened);
        var started = DateTime.UtcNow;
        var (end, carried) = await CircuitSplice.RunAsync(stream.Stream, target, _options.CircuitDataBytes, _options.CircuitDuration, reservation.Bandwidth, both.Token).ConfigureAwait(false);
        Interlocked.Add(ref _bytesRelayed, carried);
        await target.DisposeAsync().ConfigureAwait(false);
        var lasted = DateTime.UtcNow - started;
        if (end is CircuitEnd.DataLimit or CircuitEnd.DurationLimit)
            _logger.LogInformation("relay: circuit {Caller} -> {Target} closed after {Seconds:0} s: {End} reached", caller, reservation.Peer, lasted.TotalSeconds, end);
        try
        {
            CircuitClosed?.Invoke(caller, reservation.Peer, end, lasted);
        }
        catch (Exception)
        {
        }
        if (end != CircuitEnd.Closed)
            throw new OperationCanceledException(); // the hop stream was reset by the splice: nothing more to say on it
    }

    private static async Task ReplyAsync(Libp2pStream stream, RelayStatus status, CancellationToken cancellationToken)
    {
        try
        {
            await WriteAsync(stream, new HopMessage(HopMessageType.Status, Status: status).Encode(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or MuxProtocolException or ObjectDisposedException)
        {
        }
    }

    private static Task WriteAsync(Libp2pStream stream, byte[] body, CancellationToken cancellationToken) =>
        DelimitedMessage.WriteAsync(stream.Stream, body, cancellationToken);

    private sealed class Reservation(PeerId peer, Libp2pConnection connection, string address, DateTimeOffset expires, IDisposable keepOpen, RateLimiter? bandwidth) : IDisposable
    {
        public PeerId Peer { get; } = peer;
        public Libp2pConnection Connection { get; } = connection;
        public string Address { get; } = address;
        public DateTimeOffset Expires { get; set; } = expires;
        public RateLimiter? Bandwidth { get; } = bandwidth;

        /// <summary>Circuits open now; changed under the server's lock.</summary>
        public int Circuits { get; set; }

        public bool Expired => DateTimeOffset.UtcNow >= Expires;

        public void Dispose()
        {
            keepOpen.Dispose();
            Bandwidth?.Dispose();
        }
    }
}

using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Relay;

/// <summary>A relay turned a circuit down, or could not be reached: the relay is the failing hop.</summary>
public sealed class RelayRefusedException(string message, RelayStatus? status, Exception? inner = null) : IOException(message, inner)
{
    /// <summary>The relay's status; null when the relay itself could not be reached or broke the protocol.</summary>
    public RelayStatus? Status { get; } = status;
}

/// <summary>
/// The client side of circuit relay v2 as a transport of the host. Dialling
/// <c>&lt;relay address&gt;/p2p/&lt;relay&gt;/p2p-circuit/p2p/&lt;target&gt;</c> connects to the relay (or reuses the connection to
/// it), opens a hop stream and asks it to CONNECT; the stream it gets back is the raw transport the host upgrades.
/// Listening on <c>&lt;relay address&gt;/p2p/&lt;relay&gt;/p2p-circuit</c> keeps a reservation on that relay
/// (<see cref="RelayReservationListener"/>): circuits arrive on the stop protocol, which this transport serves.
/// </summary>
internal sealed class CircuitTransport : ITransport
{
    private readonly Libp2pHost _host;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<RelayReservationListener> _listeners = [];

    public CircuitTransport(Libp2pHost host, ILogger logger)
    {
        _host = host;
        _logger = logger;
    }

    public bool CanDial(Multiaddr address) => address.TryGetRelay(out _, out _, out var target) && target is not null;

    public bool CanListen(Multiaddr address) => address.TryGetRelay(out _, out _, out var target) && target is null;

    public async Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        if (!address.TryGetRelay(out var relayAddress, out var relay, out var target) || target is null)
            throw new NotSupportedException($"Cannot dial {address}: not a relayed address ending in /p2p-circuit/p2p/<peer>.");
        if (relay == _host.PeerId || target == relay)
            throw new ArgumentException($"Cannot dial {address}: the relay would be one of the ends.", nameof(address));
        Libp2pConnection connection;
        try
        {
            connection = await _host.DialAsync(relayAddress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new RelayRefusedException($"the relay {relayAddress.WithoutPeerId()} cannot be reached: {e.Message}", null, e);
        }
        if (connection.IsRelayed)
            throw new RelayRefusedException($"the relay {relay} is itself only reachable through a relay", null);
        Libp2pStream hop;
        try
        {
            hop = await connection.OpenStreamAsync(RelayProtocol.Hop, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Libp2pProtocolException or IOException or MuxProtocolException)
        {
            throw new RelayRefusedException($"{relay} at {relayAddress.WithoutPeerId()} is not a relay (it does not serve {RelayProtocol.Hop}): {e.Message}", null, e);
        }
        try
        {
            await DelimitedMessage.WriteAsync(hop.Stream, new HopMessage(HopMessageType.Connect, Peer: new RelayPeer(target, [])).Encode(), cancellationToken).ConfigureAwait(false);
            var body = await DelimitedMessage.ReadAsync(hop.Stream, RelayProtocol.MaxMessageSize, cancellationToken).ConfigureAwait(false);
            if (!HopMessage.TryDecode(body, out var answer, out string? error) || answer.Type != HopMessageType.Status)
                throw new RelayRefusedException($"the relay {relay} answered CONNECT with a malformed message ({error ?? answer?.Type.ToString()})", RelayStatus.MalformedMessage);
            if (answer.Status != RelayStatus.Ok)
                throw new RelayRefusedException($"the relay {relayAddress.WithoutPeerId()} refused the circuit to {target}: {Describe(answer.Status)}", answer.Status);
            var stream = new RelayedStream(hop.Stream, answer.Limit);
            return new TransportConnection(stream, address.WithoutPeerId(), connection.LocalAddress, null);
        }
        catch (Exception e) when (e is Libp2pProtocolException or MuxProtocolException)
        {
            hop.Stream.Reset();
            throw new RelayRefusedException($"the relay {relay} broke off the circuit: {e.Message}", null, e);
        }
        catch
        {
            hop.Stream.Reset();
            throw;
        }
    }

    public ITransportListener Listen(Multiaddr address)
    {
        if (!address.TryGetRelay(out var relayAddress, out var relay, out var target) || target is not null)
            throw new ArgumentException($"Cannot listen on {address}: expected <relay address>/p2p/<relay>/p2p-circuit.", nameof(address));
        if (relay == _host.PeerId)
            throw new ArgumentException("A host cannot reserve on itself.", nameof(address));
        var listener = new RelayReservationListener(_host, relayAddress, relay, _logger, Remove);
        lock (_lock)
            _listeners.Add(listener);
        listener.Start();
        return listener;
    }

    /// <summary>
    /// The stop protocol: a relay we hold a reservation with brings a circuit. Accepted, the stream becomes an inbound
    /// connection of the host (admission, Noise, yamux as for TCP); this handler returns only when that connection is over,
    /// because the router closes the stream when its handler returns.
    /// </summary>
    internal async Task HandleStopAsync(Libp2pStream stream, CancellationToken cancellationToken)
    {
        StopMessage? request = null;
        try
        {
            var body = await DelimitedMessage.ReadAsync(stream.Stream, RelayProtocol.MaxMessageSize, cancellationToken).ConfigureAwait(false);
            StopMessage.TryDecode(body, out request, out _);
        }
        catch (Libp2pProtocolException)
        {
        }
        if (request is not { Type: StopMessageType.Connect, Peer: { } caller })
        {
            await AnswerAsync(stream, request is null ? RelayStatus.MalformedMessage : RelayStatus.UnexpectedMessage, cancellationToken).ConfigureAwait(false);
            return;
        }
        RelayReservationListener? listener;
        lock (_lock)
            listener = _listeners.Find(l => l.Relay == stream.RemotePeer && l.IsReserved);
        if (listener is null)
        {
            _logger.LogInformation("relay: {Relay} brought a circuit from {Caller}, but we hold no reservation there; refused", stream.RemotePeer, caller.Id);
            await AnswerAsync(stream, RelayStatus.NoReservation, cancellationToken).ConfigureAwait(false);
            return;
        }
        await AnswerAsync(stream, RelayStatus.Ok, cancellationToken).ConfigureAwait(false);
        var relayed = new RelayedStream(stream.Stream, request.Limit);
        var remote = listener.CircuitAddress;
        if (!listener.Deliver(new TransportConnection(relayed, remote, stream.Connection.LocalAddress, null)))
        {
            await relayed.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await relayed.Done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Remove(RelayReservationListener listener)
    {
        lock (_lock)
            _listeners.Remove(listener);
    }

    private static async Task AnswerAsync(Libp2pStream stream, RelayStatus status, CancellationToken cancellationToken)
    {
        try
        {
            await DelimitedMessage.WriteAsync(stream.Stream, new StopMessage(StopMessageType.Status, Status: status).Encode(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or MuxProtocolException or ObjectDisposedException)
        {
        }
    }

    /// <summary>A relay status in words, for the person who reads the error.</summary>
    public static string Describe(RelayStatus? status) => status switch
    {
        RelayStatus.Ok => "OK",
        RelayStatus.ReservationRefused => "reservation refused (RESERVATION_REFUSED)",
        RelayStatus.ResourceLimitExceeded => "the relay is at a limit (RESOURCE_LIMIT_EXCEEDED)",
        RelayStatus.PermissionDenied => "not allowed (PERMISSION_DENIED)",
        RelayStatus.ConnectionFailed => "the relay could not reach the peer, or the peer turned the circuit down (CONNECTION_FAILED)",
        RelayStatus.NoReservation => "the peer holds no reservation on this relay (NO_RESERVATION): it is not connected to it now",
        RelayStatus.MalformedMessage => "the relay did not understand the request (MALFORMED_MESSAGE)",
        RelayStatus.UnexpectedMessage => "unexpected message (UNEXPECTED_MESSAGE)",
        null => "no status",
        _ => $"status {(int)status}",
    };
}

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Tests.Support;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Tests.Relay;

/// <summary>
/// Circuit relay v2 between three real hosts on loopback: a relay, a peer that reserves on it, and a caller that reaches
/// that peer only through the relay. Limits, refusals and the reservation's life are asserted from both ends.
/// </summary>
public class CircuitRelayTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private sealed class Trio : IAsyncDisposable
    {
        public required Libp2pHost Relay { get; init; }
        public required CircuitRelayServer Server { get; init; }
        public required Multiaddr RelayAddress { get; init; }
        public required Libp2pHost Target { get; init; }
        public required Libp2pHost Caller { get; init; }
        /// <summary>How the first circuit through the relay ended, as the relay reports it.</summary>
        public TaskCompletionSource<CircuitEnd> FirstEnd { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The target's relayed address, as a caller dials it.</summary>
        public Multiaddr TargetViaRelay => Multiaddr.Parse($"{RelayAddress}/p2p-circuit/p2p/{Target.PeerId}");

        public async ValueTask DisposeAsync()
        {
            await Caller.DisposeAsync();
            await Target.DisposeAsync();
            await Server.DisposeAsync();
            await Relay.DisposeAsync();
        }
    }

    private static async Task<(Libp2pHost Host, CircuitRelayServer Server, Multiaddr Address)> StartRelay(Func<CircuitRelayOptions, CircuitRelayOptions>? configure = null,
        PeerIdentity? identity = null, int port = 0)
    {
        var host = new Libp2pHost(identity ?? PeerIdentity.Generate());
        var bound = await host.ListenAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}"));
        var options = new CircuitRelayOptions { MayReserve = _ => true };
        var server = new CircuitRelayServer(host, configure?.Invoke(options) ?? options);
        return (host, server, bound.WithPeerId(host.PeerId));
    }

    /// <summary>A relay, a target that has reserved on it (when <paramref name="reserve"/>), and a caller.</summary>
    private static async Task<Trio> StartTrio(Func<CircuitRelayOptions, CircuitRelayOptions>? configure = null, bool reserve = true)
    {
        var (relay, server, address) = await StartRelay(configure);
        var target = new Libp2pHost(PeerIdentity.Generate());
        EchoProtocol.Register(target);
        var caller = new Libp2pHost(PeerIdentity.Generate());
        var trio = new Trio { Relay = relay, Server = server, RelayAddress = address, Target = target, Caller = caller };
        server.CircuitClosed += (_, _, end, _) => trio.FirstEnd.TrySetResult(end);
        if (reserve)
            await ReserveAsync(target, address);
        return trio;
    }

    /// <summary>Listens through the relay and waits for the reservation's outcome (made, or refused with a reason).</summary>
    private static async Task<RelayReservationState> ReserveAsync(Libp2pHost host, Multiaddr relay, bool expectSuccess = true)
    {
        var result = await host.ListenThroughRelayAsync(relay).WaitAsync(Guard);
        if (expectSuccess && !result.IsReserved)
            throw new InvalidOperationException($"reservation failed: {result.LastError}");
        return result;
    }

    [Test]
    public async Task A_caller_reaches_a_reserved_peer_only_through_the_relay_and_both_ends_see_a_relayed_connection()
    {
        await using var trio = await StartTrio();
        var inbound = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        trio.Target.ConnectionOpened += c =>
        {
            if (c.RemotePeer == trio.Caller.PeerId)
                inbound.TrySetResult(c);
        };

        var connection = await trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard);
        bool small = await EchoProtocol.RoundTripAsync(connection, 1000).WaitAsync(Guard);
        bool large = await EchoProtocol.RoundTripAsync(connection, 4 * 1024 * 1024).WaitAsync(Guard);
        var identified = await trio.Caller.IdentifyAsync(connection).WaitAsync(Guard);
        var atTarget = await inbound.Task.WaitAsync(Guard);

        await Assert.That(small && large).IsTrue();
        await Assert.That(connection.RemotePeer).IsEqualTo(trio.Target.PeerId);
        await Assert.That(connection.IsRelayed).IsTrue();
        await Assert.That(atTarget.IsRelayed).IsTrue();
        await Assert.That(atTarget.RemoteAddress.ToString()).IsEqualTo($"{trio.RelayAddress}/p2p-circuit");
        // The target tells who it is over the circuit, and that it can be reached through the relay.
        await Assert.That(identified.ListenAddresses.Select(a => a.ToString())).Contains($"{trio.RelayAddress}/p2p-circuit");
        await Assert.That(trio.Server.ReservationCount).IsEqualTo(1);
        await Assert.That(trio.Server.CircuitCount).IsEqualTo(1);
        await Assert.That(trio.Target.RelayReservations.Single().Limit!.DataBytes).IsEqualTo((ulong)(1L << 30));
    }

    [Test]
    public async Task A_peer_the_relay_does_not_accept_gets_permission_denied_and_callers_get_no_reservation()
    {
        await using var trio = await StartTrio(o => o with { MayReserve = _ => false }, reserve: false);

        var state = await ReserveAsync(trio.Target, trio.RelayAddress, expectSuccess: false);
        var refused = await Assert.ThrowsAsync<RelayRefusedException>(() => trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard));

        await Assert.That(state.IsReserved).IsFalse();
        await Assert.That(state.LastError!).Contains("PERMISSION_DENIED");
        await Assert.That(refused!.Status).IsEqualTo(RelayStatus.NoReservation);
        await Assert.That(refused.Message).Contains("NO_RESERVATION");
        await Assert.That(trio.Server.ReservationCount).IsEqualTo(0);
    }

    [Test]
    public async Task A_circuit_that_carries_its_data_limit_is_cut_and_the_caller_can_tell_which_limit()
    {
        const long limit = 256 * 1024;
        await using var trio = await StartTrio(o => o with { CircuitDataBytes = limit });
        var connection = await trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard);

        bool within = await EchoProtocol.RoundTripAsync(connection, 16 * 1024).WaitAsync(Guard);
        var beyond = await Assert.ThrowsAsync<Exception>(() => EchoProtocol.RoundTripAsync(connection, 1024 * 1024).WaitAsync(Guard));
        await connection.Closed.WaitAsync(Guard);

        await Assert.That(within).IsTrue();
        await Assert.That(beyond).IsNotNull();
        await Assert.That(connection.Relayed!.LimitReached()).IsEqualTo("the relay's data limit of 256 KiB per direction");
        await Assert.That(connection.Relayed.BytesWritten).IsGreaterThanOrEqualTo(limit - 64 * 1024);
        await Assert.That(await trio.FirstEnd.Task.WaitAsync(Guard)).IsEqualTo(CircuitEnd.DataLimit);
    }

    [Test]
    public async Task A_circuit_that_outlives_its_time_limit_is_cut_and_the_caller_can_tell_which_limit()
    {
        await using var trio = await StartTrio(o => o with { CircuitDuration = TimeSpan.FromSeconds(2) });
        var connection = await trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard);
        bool echoed = await EchoProtocol.RoundTripAsync(connection, 1000).WaitAsync(Guard);

        await connection.Closed.WaitAsync(Guard);

        await Assert.That(echoed).IsTrue();
        // The relay starts its clock when it sends OK, a moment before the caller reads it.
        await Assert.That(connection.Relayed!.Age).IsGreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5));
        await Assert.That(connection.Relayed.LimitReached()).IsEqualTo("the relay's time limit of 2 s");
        await Assert.That(await trio.FirstEnd.Task.WaitAsync(Guard)).IsEqualTo(CircuitEnd.DurationLimit);
    }

    [Test]
    public async Task Reservations_beyond_the_relay_limit_and_circuits_beyond_the_reservation_limit_are_refused()
    {
        await using var trio = await StartTrio(o => o with { MaxReservations = 1, MaxCircuitsPerReservation = 1 });
        await using var second = new Libp2pHost(PeerIdentity.Generate());
        await using var otherCaller = new Libp2pHost(PeerIdentity.Generate());

        var refusedReservation = await ReserveAsync(second, trio.RelayAddress, expectSuccess: false);
        var first = await trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard);
        var refusedCircuit = await Assert.ThrowsAsync<RelayRefusedException>(() => otherCaller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard));
        bool firstStillWorks = await EchoProtocol.RoundTripAsync(first, 1000).WaitAsync(Guard);

        await Assert.That(refusedReservation.LastError!).Contains("RESOURCE_LIMIT_EXCEEDED");
        await Assert.That(refusedCircuit!.Status).IsEqualTo(RelayStatus.ResourceLimitExceeded);
        await Assert.That(firstStillWorks).IsTrue();
    }

    [Test]
    public async Task The_reservation_is_made_again_when_the_relay_comes_back_after_a_restart()
    {
        var relayIdentity = PeerIdentity.Generate();
        var (relay, server, address) = await StartRelay(identity: relayIdentity);
        await using var target = new Libp2pHost(PeerIdentity.Generate());
        EchoProtocol.Register(target);
        await using var caller = new Libp2pHost(PeerIdentity.Generate());
        await ReserveAsync(target, address);
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var again = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        target.RelayReservationChanged += state =>
        {
            if (!state.IsReserved)
                lost.TrySetResult();
            else if (lost.Task.IsCompleted)
                again.TrySetResult();
        };
        int port = int.Parse(address.Components[1].ValueText, System.Globalization.CultureInfo.InvariantCulture);

        await server.DisposeAsync();
        await relay.DisposeAsync();
        await lost.Task.WaitAsync(Guard);
        var (relay2, server2, address2) = await StartRelay(identity: relayIdentity, port: port);
        await using var _ = relay2;
        await using var __ = server2;
        await again.Task.WaitAsync(Guard);
        var connection = await caller.DialAsync(Multiaddr.Parse($"{address2}/p2p-circuit/p2p/{target.PeerId}")).WaitAsync(Guard);

        await Assert.That(await EchoProtocol.RoundTripAsync(connection, 1000).WaitAsync(Guard)).IsTrue();
        await Assert.That(server2.HasReservation(target.PeerId)).IsTrue();
    }

    [Test]
    public async Task The_reservation_is_renewed_before_it_expires()
    {
        // The shortest TTL the relay takes: the client renews at three quarters of what is left, so well within it.
        await using var trio = await StartTrio(o => o with { ReservationTtl = TimeSpan.FromSeconds(10) }, reserve: false);
        var first = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        var renewed = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        trio.Target.RelayReservationChanged += state =>
        {
            if (state.Expires is not { } expires)
                return;
            if (!first.TrySetResult(expires) && expires > first.Task.Result)
                renewed.TrySetResult(expires);
        };

        await trio.Target.ListenAsync(Multiaddr.Parse($"{trio.RelayAddress}/p2p-circuit"));
        var initial = await first.Task.WaitAsync(Guard);
        var later = await renewed.Task.WaitAsync(Guard);

        await Assert.That(later).IsGreaterThan(initial);
        // Renewed before the first one ran out, on the same connection: the relay never dropped it.
        await Assert.That(DateTimeOffset.UtcNow).IsLessThan(initial);
        await Assert.That(trio.Server.HasReservation(trio.Target.PeerId)).IsTrue();
    }

    [Test]
    public async Task A_relay_that_does_not_answer_is_named_as_the_failing_hop()
    {
        await using var caller = new Libp2pHost(PeerIdentity.Generate());
        var relayId = PeerIdentity.Generate().PeerId;
        var target = PeerIdentity.Generate().PeerId;
        int closedPort = PeerCompute.Testing.FreePorts.One();
        var address = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{closedPort}/p2p/{relayId}/p2p-circuit/p2p/{target}");

        var refused = await Assert.ThrowsAsync<RelayRefusedException>(() => caller.DialAsync(address).WaitAsync(Guard));

        await Assert.That(refused!.Status).IsNull();
        await Assert.That(refused.Message).StartsWith($"the relay /ip4/127.0.0.1/tcp/{closedPort} cannot be reached");
    }

    [Test]
    public async Task A_stop_stream_from_a_relay_the_peer_holds_no_reservation_with_is_refused()
    {
        await using var target = new Libp2pHost(PeerIdentity.Generate());
        var bound = await target.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));
        await using var impostor = new Libp2pHost(PeerIdentity.Generate());
        var connection = await impostor.DialAsync(bound.WithPeerId(target.PeerId)).WaitAsync(Guard);

        await using var stop = await connection.OpenStreamAsync(RelayProtocol.Stop, CancellationToken.None).WaitAsync(Guard);
        await DelimitedMessage.WriteAsync(stop.Stream, new StopMessage(StopMessageType.Connect, Peer: new RelayPeer(impostor.PeerId, [])).Encode(), CancellationToken.None);
        var body = await DelimitedMessage.ReadAsync(stop.Stream, RelayProtocol.MaxMessageSize, CancellationToken.None).WaitAsync(Guard);

        await Assert.That(StopMessage.TryDecode(body, out var answer, out _)).IsTrue();
        await Assert.That(answer!.Type).IsEqualTo(StopMessageType.Status);
        await Assert.That(answer.Status).IsEqualTo(RelayStatus.NoReservation);
        await Assert.That(target.Connections.Count(c => c.IsRelayed)).IsEqualTo(0);
    }

    [Test]
    public async Task Malformed_and_unexpected_hop_messages_get_their_status_and_nothing_else()
    {
        var (relay, server, address) = await StartRelay();
        await using var relayHost = relay;
        await using var relayServer = server;
        await using var client = new Libp2pHost(PeerIdentity.Generate());
        var connection = await client.DialAsync(address).WaitAsync(Guard);

        async Task<RelayStatus?> Send(byte[] body)
        {
            await using var hop = await connection.OpenStreamAsync(RelayProtocol.Hop, CancellationToken.None).WaitAsync(Guard);
            await DelimitedMessage.WriteAsync(hop.Stream, body, CancellationToken.None);
            var answer = await DelimitedMessage.ReadAsync(hop.Stream, RelayProtocol.MaxMessageSize, CancellationToken.None).WaitAsync(Guard);
            return HopMessage.TryDecode(answer, out var message, out _) ? message.Status : null;
        }

        var garbage = await Send([0xFF, 0xFF, 0xFF]);
        var noType = await Send([0x12, 0x00]); // only an empty peer field
        var status = await Send(new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode());
        var connectWithoutPeer = await Send(new HopMessage(HopMessageType.Connect).Encode());

        await Assert.That(garbage).IsEqualTo(RelayStatus.MalformedMessage);
        await Assert.That(noType).IsEqualTo(RelayStatus.MalformedMessage);
        await Assert.That(status).IsEqualTo(RelayStatus.UnexpectedMessage);
        await Assert.That(connectWithoutPeer).IsEqualTo(RelayStatus.MalformedMessage);
        await Assert.That(server.ReservationCount).IsEqualTo(0);
    }

    [Test]
    public async Task A_relayed_caller_cannot_use_the_relay_as_a_hop_of_a_longer_chain()
    {
        await using var trio = await StartTrio();
        // The target (reachable through the relay) is also a relay itself; a caller that reached it through the first
        // relay may not open a circuit onward.
        await using var onward = new CircuitRelayServer(trio.Target, new CircuitRelayOptions { MayReserve = _ => true });
        await using var far = new Libp2pHost(PeerIdentity.Generate());
        var viaFirst = await trio.Caller.DialAsync(trio.TargetViaRelay).WaitAsync(Guard);

        await using var hop = await viaFirst.OpenStreamAsync(RelayProtocol.Hop, CancellationToken.None).WaitAsync(Guard);
        await DelimitedMessage.WriteAsync(hop.Stream, new HopMessage(HopMessageType.Reserve).Encode(), CancellationToken.None);
        var answer = await DelimitedMessage.ReadAsync(hop.Stream, RelayProtocol.MaxMessageSize, CancellationToken.None).WaitAsync(Guard);

        await Assert.That(HopMessage.TryDecode(answer, out var message, out _)).IsTrue();
        await Assert.That(message!.Status).IsEqualTo(RelayStatus.PermissionDenied);
    }
    [Test]
    public async Task A_direct_dial_given_up_on_does_not_hold_back_the_relayed_dial_of_the_same_peer()
    {
        await using var trio = await StartTrio();
        // What peerctl does for a provider behind a NAT: its direct address swallows the SYN (here a transport that never
        // answers), so the caller gives up on it after a while and dials the relayed address of the same peer.
        await using var caller = new Libp2pHost(PeerIdentity.Generate(), null, null, [new SilentTransport(), new TcpTransport()]);
        using (var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            var direct = Multiaddr.Parse($"/ip4/{SilentTransport.Address}/tcp/4001/p2p/{trio.Target.PeerId}");
            await Assert.That(async () => await caller.DialAsync(direct, giveUp.Token)).Throws<OperationCanceledException>();
        }

        // Well within the direct dial's handshake timeout, which it would otherwise have had to wait out.
        var relayed = await caller.DialAsync(trio.TargetViaRelay).WaitAsync(TimeSpan.FromSeconds(5));

        await Assert.That(relayed.IsRelayed).IsTrue();
        await Assert.That(await EchoProtocol.RoundTripAsync(relayed, 1000).WaitAsync(Guard)).IsTrue();
    }

    /// <summary>Claims one TEST-NET address and never connects: a SYN dropped by a NAT, until the dial is cancelled.</summary>
    private sealed class SilentTransport : ITransport
    {
        public const string Address = "192.0.2.77";

        public bool CanDial(Multiaddr address) => address.TryGetTcpTarget(out string host, out _) && host == Address;

        public bool CanListen(Multiaddr address) => false;

        public async Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public ITransportListener Listen(Multiaddr address) => throw new NotSupportedException();
    }
}

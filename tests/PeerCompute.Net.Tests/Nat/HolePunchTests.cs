using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.HolePunch;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Tests.Support;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Tests.Nat;

/// <summary>
/// DCUtR between two hosts behind NATs of the lab, through a relay on its public side: the provider (B) in the root
/// namespace behind the host router, the caller (A) in the home namespace behind the home router. Through two NATs that
/// keep ports, the relayed connection is upgraded to a direct one; with a NAT that changes ports it is not, and the relay
/// keeps carrying the connection.
/// </summary>
public class HolePunchTests
{
    private const int TestTimeoutMs = 180_000;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private sealed class Scene(NatLab lab, Libp2pHost relay, CircuitRelayServer server, Libp2pHost provider, Libp2pHost caller, Multiaddr providerViaRelay) : IAsyncDisposable
    {
        public NatLab Lab { get; } = lab;
        public Libp2pHost Provider { get; } = provider;
        public Libp2pHost Caller { get; } = caller;
        public Multiaddr ProviderViaRelay { get; } = providerViaRelay;

        public async ValueTask DisposeAsync()
        {
            await Caller.DisposeAsync();
            await Provider.DisposeAsync();
            await server.DisposeAsync();
            await relay.DisposeAsync();
            await Lab.DisposeAsync();
        }
    }

    /// <summary>A TCP transport whose sockets live in <paramref name="ns"/> (made on a thread that entered it).</summary>
    private static TcpTransport InNamespace(NatLab lab, string ns, bool reuse) => new()
    {
        ReuseListenPort = reuse,
        SocketFactory = family => lab.RunInNamespaceAsync(ns, () => new Socket(family, SocketType.Stream, ProtocolType.Tcp)).GetAwaiter().GetResult(),
    };

    private static async Task<Scene> StartAsync(NatLabOptions natOptions, CancellationToken cancellationToken, bool callerReusesPort = true)
    {
        var lab = await NatLab.CreateAsync(natOptions, cancellationToken);
        var relay = new Libp2pHost(PeerIdentity.Generate(), null, null, [InNamespace(lab, lab.PublicNamespace, reuse: false)]);
        var relayAddress = (await relay.ListenAsync(Multiaddr.Parse($"/ip4/{lab.PublicHostAddress}/tcp/0"), cancellationToken)).WithPeerId(relay.PeerId);
        var server = new CircuitRelayServer(relay, new CircuitRelayOptions { MayReserve = _ => true });

        var callerIdentity = PeerIdentity.Generate();
        var punching = new Libp2pHostOptions { EnableHolePunching = true, HolePunchDialTimeout = TimeSpan.FromSeconds(2) };
        // The provider in the root namespace, as peercomputed: it trusts the caller, listens on every address, and holds
        // a reservation on the relay, dialled from its listening port.
        var provider = new Libp2pHost(PeerIdentity.Generate(), punching with { IsTrusted = p => p == callerIdentity.PeerId });
        EchoProtocol.Register(provider);
        await provider.ListenAsync(Multiaddr.Parse("/ip4/0.0.0.0/tcp/0"), cancellationToken);
        var state = await provider.ListenThroughRelayAsync(relayAddress, cancellationToken).WaitAsync(Guard, cancellationToken);
        if (!state.IsReserved)
            throw new InvalidOperationException($"the provider could not reserve: {state.LastError}");

        // The caller at home, as peerctl: it listens on a port of its own and dials from it.
        var caller = new Libp2pHost(callerIdentity, punching with { IdentifyOnConnect = false }, null, [InNamespace(lab, lab.HomeNamespace, reuse: callerReusesPort)]);
        await caller.ListenAsync(Multiaddr.Parse("/ip4/0.0.0.0/tcp/0"), cancellationToken);
        return new Scene(lab, relay, server, provider, caller, Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{provider.PeerId}"));
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Through_two_nats_that_keep_ports_the_relayed_connection_is_upgraded_to_a_direct_one(CancellationToken cancellationToken)
    {
        await using var scene = await StartAsync(new NatLabOptions(), cancellationToken);
        var atCaller = scene.Caller.HolePunch!.OutcomeAsync(scene.Provider.PeerId);
        var atProvider = scene.Provider.HolePunch!.OutcomeAsync(scene.Caller.PeerId);

        var relayed = await scene.Caller.DialAsync(scene.ProviderViaRelay, cancellationToken).WaitAsync(Guard, cancellationToken);
        var callerOutcome = await atCaller.WaitAsync(Guard, cancellationToken);
        var providerOutcome = await atProvider.WaitAsync(Guard, cancellationToken);
        var direct = scene.Caller.GetConnection(scene.Provider.PeerId)!;
        bool echoed = await EchoProtocol.RoundTripAsync(direct, 256 * 1024, cancellationToken).WaitAsync(Guard, cancellationToken);
        bool relayStillWorks = await EchoProtocol.RoundTripAsync(relayed, 1000, cancellationToken).WaitAsync(Guard, cancellationToken);

        await Assert.That(relayed.IsRelayed).IsTrue();
        await Assert.That(callerOutcome.Succeeded).IsTrue().Because(callerOutcome.Reason ?? "");
        await Assert.That(providerOutcome.Succeeded).IsTrue().Because(providerOutcome.Reason ?? "");
        // New streams take the direct connection, which reaches the provider at its router's public address.
        await Assert.That(direct.IsRelayed).IsFalse();
        await Assert.That(direct.HolePunched).IsTrue();
        await Assert.That(direct.RemoteAddress.TryGetTcpTarget(out string host, out _)).IsTrue();
        await Assert.That(host).IsEqualTo(scene.Lab.HostRouterPublicAddress.ToString());
        await Assert.That(echoed && relayStillWorks).IsTrue();
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Without_dialling_from_its_listening_port_the_caller_cannot_be_hole_punched_to(CancellationToken cancellationToken)
    {
        // The same port-keeping NATs, but the caller's dials leave from fresh ports: the port the relay observed is not the
        // one its direct dial leaves from, so the provider's SYN meets no mapping at the home router.
        await using var scene = await StartAsync(new NatLabOptions(), cancellationToken, callerReusesPort: false);
        var atProvider = scene.Provider.HolePunch!.OutcomeAsync(scene.Caller.PeerId);

        var relayed = await scene.Caller.DialAsync(scene.ProviderViaRelay, cancellationToken).WaitAsync(Guard, cancellationToken);
        var outcome = await atProvider.WaitAsync(Guard, cancellationToken);

        await Assert.That(outcome.Succeeded).IsFalse();
        await Assert.That(scene.Caller.GetConnection(scene.Provider.PeerId)).IsSameReferenceAs(relayed);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Behind_a_nat_that_changes_ports_the_hole_punch_fails_and_the_relay_keeps_carrying_the_connection(CancellationToken cancellationToken)
    {
        await using var scene = await StartAsync(new NatLabOptions { HardNatHost = true }, cancellationToken);
        var atProvider = scene.Provider.HolePunch!.OutcomeAsync(scene.Caller.PeerId);

        var relayed = await scene.Caller.DialAsync(scene.ProviderViaRelay, cancellationToken).WaitAsync(Guard, cancellationToken);
        var outcome = await atProvider.WaitAsync(Guard, cancellationToken);
        bool echoed = await EchoProtocol.RoundTripAsync(scene.Caller.GetConnection(scene.Provider.PeerId)!, 256 * 1024, cancellationToken).WaitAsync(Guard, cancellationToken);

        await Assert.That(outcome.Succeeded).IsFalse();
        await Assert.That(outcome.Attempts).IsEqualTo(3);
        await Assert.That(scene.Caller.GetConnection(scene.Provider.PeerId)).IsSameReferenceAs(relayed);
        await Assert.That(echoed).IsTrue();
    }

    [Test]
    public async Task A_provider_hole_punches_only_towards_peers_it_trusts()
    {
        await using var relay = new Libp2pHost(PeerIdentity.Generate());
        var relayAddress = (await relay.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"))).WithPeerId(relay.PeerId);
        await using var server = new CircuitRelayServer(relay, new CircuitRelayOptions { MayReserve = _ => true });
        var punching = new Libp2pHostOptions { EnableHolePunching = true };
        await using var trusted = new Libp2pHost(PeerIdentity.Generate(), punching with { IdentifyOnConnect = false });
        await using var stranger = new Libp2pHost(PeerIdentity.Generate(), punching with { IdentifyOnConnect = false });
        await using var provider = new Libp2pHost(PeerIdentity.Generate(), punching with { IsTrusted = p => p == trusted.PeerId });
        await provider.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));
        var state = await provider.ListenThroughRelayAsync(relayAddress).WaitAsync(Guard);
        var viaRelay = Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{provider.PeerId}");
        var strangerStarted = stranger.HolePunch!.StartedAsync(provider.PeerId);
        var trustedOutcome = trusted.HolePunch!.OutcomeAsync(provider.PeerId);

        // The stranger's circuit comes first: had the provider wanted to punch towards it, that would have begun first.
        await stranger.DialAsync(viaRelay).WaitAsync(Guard);
        await trusted.DialAsync(viaRelay).WaitAsync(Guard);
        var outcome = await trustedOutcome.WaitAsync(Guard);

        await Assert.That(state.IsReserved).IsTrue();
        // Loopback addresses are never dialled, so the trusted peer's punch ends at once, without a direct connection.
        await Assert.That(outcome.Succeeded).IsFalse();
        await Assert.That(strangerStarted.IsCompleted).IsFalse();
    }

    [Test]
    public async Task Only_direct_tcp_addresses_that_are_not_loopback_unspecified_or_multicast_are_dialled()
    {
        var relay = PeerIdentity.Generate().PeerId;
        var addresses = new[]
        {
            "/ip4/203.0.113.7/tcp/4001", "/ip4/127.0.0.1/tcp/9000", "/ip4/0.0.0.0/tcp/9000", "/ip4/224.0.0.251/tcp/9000",
            "/ip6/::1/tcp/9000", "/ip4/10.0.0.2/tcp/0", "/ip4/198.51.100.2/udp/9000", $"/ip4/203.0.113.7/tcp/4001/p2p/{relay}/p2p-circuit",
            "/ip4/192.168.1.20/tcp/9000", "/dns4/example.org/tcp/9000",
        }.Select(Multiaddr.Parse);

        var dialable = HolePunchService.Dialable(addresses).Select(a => a.ToString()).ToList();

        await Assert.That(dialable).IsEquivalentTo(new[] { "/ip4/203.0.113.7/tcp/4001", "/ip4/192.168.1.20/tcp/9000" });
    }
}

using System.Net;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Host;

/// <summary>
/// The host's connection manager over real loopback sockets, strangers (fresh keys) coming from distinct 127.0.x.y
/// addresses: room kept for trusted peers, per-address caps before and after the handshake, idle strangers closed,
/// and an address book that does not grow with every fresh key.
/// </summary>
public class ConnectionManagerTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static IPAddress Loopback(int third, int fourth) => new([127, 0, (byte)third, (byte)fourth]);

    /// <summary>Counts the inbound connections that finished their handshake, admitted (opened) or not (failed).</summary>
    private sealed class Outcomes
    {
        private readonly Lock _lock = new();
        private readonly List<Libp2pConnection> _opened = [];
        private readonly List<Exception> _failed = [];

        public Outcomes(Libp2pHost host)
        {
            host.ConnectionOpened += c => { lock (_lock) _opened.Add(c); };
            host.InboundConnectionFailed += (_, e) => { lock (_lock) _failed.Add(e); };
        }

        public int Opened { get { lock (_lock) return _opened.Count; } }

        public List<Exception> Failed { get { lock (_lock) return [.. _failed]; } }

        public Task WaitAsync(int opened, int failed, string what) => Eventually.WaitAsync(() =>
        {
            lock (_lock)
                return Task.FromResult(_opened.Count >= opened && _failed.Count >= failed);
        }, what, Guard);

        /// <summary>Until <paramref name="count"/> handshakes have ended, admitted or not.</summary>
        public Task WaitEndedAsync(int count, string what) => Eventually.WaitAsync(() =>
        {
            lock (_lock)
                return Task.FromResult(_opened.Count + _failed.Count >= count);
        }, what, Guard);
    }

    /// <summary>The raw peers of one test, closed when it ends, passed or not.</summary>
    private sealed class RawPeers : List<RawPeer>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var peer in this)
                await peer.DisposeAsync();
        }
    }

    private static async Task<RawPeer> StrangerAsync(Multiaddr address, IPAddress source)
    {
        var raw = await RawPeer.ConnectAsync(address, source: source);
        using var key = PeerIdentity.Generate();
        await raw.SecureAsync(key);
        return raw;
    }

    [Test]
    public async Task A_trusted_peer_gets_in_and_an_answer_while_strangers_hold_every_slot_they_can()
    {
        using var trustedKey = PeerIdentity.Generate();
        var trustedId = trustedKey.PeerId;
        var options = new Libp2pHostOptions
        {
            MaxInboundConnections = 12,
            MaxPendingInboundConnections = 4,
            MaxUntrustedConnections = 4,
            IsTrusted = peer => peer == trustedId,
        };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        var outcomes = new Outcomes(host);

        // As many strangers as there are inbound connections in all, each from its own address, each a fresh key.
        await using var strangers = new RawPeers();
        for (int i = 1; i <= options.MaxInboundConnections; i++)
            strangers.Add(await StrangerAsync(address, Loopback(1, i)));
        await outcomes.WaitEndedAsync(options.MaxInboundConnections, "every stranger's handshake to end");

        await using var trusted = new Libp2pHost(trustedKey);
        var connection = await trusted.DialAsync(address).WaitAsync(Guard);
        bool answered = await EchoProtocol.RoundTripAsync(connection, 10_000).WaitAsync(Guard);

        await Assert.That(answered).IsTrue();
        await Assert.That(host.InboundCounts.Untrusted).IsEqualTo(options.MaxUntrustedConnections);
        await Assert.That(host.InboundCounts.Trusted).IsEqualTo(1);
        await Assert.That(outcomes.Failed.All(e => e.Message.Contains("untrusted peers are open already", StringComparison.Ordinal))).IsTrue();
    }

    [Test]
    public async Task The_per_address_cap_refuses_one_more_stranger_from_that_address_but_not_from_another()
    {
        var options = new Libp2pHostOptions { MaxUntrustedConnectionsPerAddress = 3 };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        var outcomes = new Outcomes(host);
        await using var peers = new RawPeers();
        for (int i = 0; i < options.MaxUntrustedConnectionsPerAddress; i++)
            peers.Add(await StrangerAsync(address, Loopback(2, 1)));
        await outcomes.WaitAsync(options.MaxUntrustedConnectionsPerAddress, 0, "the first strangers to be admitted");

        var oneMore = await StrangerAsync(address, Loopback(2, 1));
        peers.Add(oneMore);
        await outcomes.WaitAsync(options.MaxUntrustedConnectionsPerAddress, 1, "the stranger over the cap to be refused");
        bool closed = await oneMore.WaitClosedAsync(Guard);
        peers.Add(await StrangerAsync(address, Loopback(2, 2)));
        await outcomes.WaitAsync(options.MaxUntrustedConnectionsPerAddress + 1, 1, "a stranger from another address to be admitted");

        await Assert.That(closed).IsTrue();
        await Assert.That(outcomes.Failed.Single().Message).Contains("from 127.0.2.1");
        await Assert.That(host.InboundCounts.Untrusted).IsEqualTo(options.MaxUntrustedConnectionsPerAddress + 1);
    }

    [Test]
    public async Task Connections_that_hold_every_handshake_slot_from_many_addresses_do_not_keep_a_trusted_peer_out()
    {
        using var trustedKey = PeerIdentity.Generate();
        var trustedId = trustedKey.PeerId;
        // A handshake timeout far beyond the guard: only the newer connection can take the silent ones' slots.
        var options = new Libp2pHostOptions { MaxPendingInboundConnections = 4, HandshakeTimeout = TimeSpan.FromMinutes(5), IsTrusted = peer => peer == trustedId };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        await using var silent = new RawPeers();
        for (int i = 1; i <= options.MaxPendingInboundConnections; i++)
            silent.Add(await RawPeer.ConnectAsync(address, source: Loopback(4, i)));
        await Eventually.WaitAsync(() => Task.FromResult(host.InboundCounts.Pending == options.MaxPendingInboundConnections), "the silent connections to take every handshake slot", Guard);

        await using var trusted = new Libp2pHost(trustedKey);
        var connection = await trusted.DialAsync(address).WaitAsync(Guard);
        bool answered = await EchoProtocol.RoundTripAsync(connection, 10_000).WaitAsync(Guard);
        bool oldestClosed = await silent[0].WaitClosedAsync(Guard);

        await Assert.That(answered).IsTrue();
        await Assert.That(oldestClosed).IsTrue();
        await Assert.That(host.InboundCounts.Trusted).IsEqualTo(1);
        await Assert.That(host.InboundCounts.Pending).IsEqualTo(options.MaxPendingInboundConnections - 1);
    }

    [Test]
    public async Task Handshakes_from_one_address_are_capped_before_a_byte_is_read()
    {
        // A handshake timeout far beyond the guard: a connection closed here was closed by the cap, not the timeout.
        var options = new Libp2pHostOptions { MaxPendingInboundPerAddress = 2, HandshakeTimeout = TimeSpan.FromMinutes(5) };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        var outcomes = new Outcomes(host);
        await using var silent = new RawPeers();
        for (int i = 0; i < options.MaxPendingInboundPerAddress; i++)
            silent.Add(await RawPeer.ConnectAsync(address, source: Loopback(3, 1)));
        await Eventually.WaitAsync(() => Task.FromResult(host.InboundCounts.Pending == options.MaxPendingInboundPerAddress), "the silent connections to be accepted", Guard);

        await using var over = await RawPeer.ConnectAsync(address, source: Loopback(3, 1));
        bool closed = await over.WaitClosedAsync(Guard);
        await using var other = await StrangerAsync(address, Loopback(3, 2));
        await outcomes.WaitAsync(1, 0, "a stranger from another address to be admitted");

        await Assert.That(closed).IsTrue();
        await Assert.That(host.InboundCounts.Pending).IsEqualTo(options.MaxPendingInboundPerAddress);
    }

    [Test]
    public async Task An_idle_strangers_connection_is_closed_and_a_trusted_peers_is_not()
    {
        using var trustedKey = PeerIdentity.Generate();
        var trustedId = trustedKey.PeerId;
        var options = new Libp2pHostOptions { UntrustedIdleTimeout = TimeSpan.FromSeconds(1), IsTrusted = peer => peer == trustedId };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        await using var trusted = new Libp2pHost(trustedKey);
        await using var stranger = new Libp2pHost(PeerIdentity.Generate());
        var strangerClosed = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionClosed += c =>
        {
            if (c.RemotePeer == stranger.PeerId)
                strangerClosed.TrySetResult(c);
        };

        // The trusted peer connects first, so it has been idle longer when the stranger's connection goes.
        await (await trusted.DialAsync(address).WaitAsync(Guard)).Identified.WaitAsync(Guard);
        var fromStranger = await stranger.DialAsync(address).WaitAsync(Guard);
        var closed = await strangerClosed.Task.WaitAsync(Guard);
        await fromStranger.Closed.WaitAsync(Guard);

        await Assert.That(closed.ClosedForIdleness).IsTrue();
        await Assert.That(host.GetConnection(trustedId)).IsNotNull();
        await Assert.That(await EchoProtocol.RoundTripAsync(trusted.GetConnection(host.PeerId)!, 1000).WaitAsync(Guard)).IsTrue();
    }

    [Test]
    public async Task The_address_book_stays_bounded_after_many_fresh_keys_identify()
    {
        const int strangers = 20;
        using var trustedKey = PeerIdentity.Generate();
        var trustedId = trustedKey.PeerId;
        var options = new Libp2pHostOptions
        {
            MaxUntrustedPeersInAddressBook = 5,
            MaxUntrustedConnectionsPerAddress = strangers,
            IsTrusted = peer => peer == trustedId,
        };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        int identified = 0;
        host.PeerIdentified += (_, _) => Interlocked.Increment(ref identified);
        var peers = new List<Libp2pHost>();
        try
        {
            // One at a time, each identified before the next dials, so the order the book saw them in is known.
            for (int i = 0; i <= strangers; i++)
            {
                var (peer, _) = await HostTests.StartHost(identity: i == 0 ? trustedKey : null);
                peers.Add(peer);
                await peer.DialAsync(address).WaitAsync(Guard);
                int expected = i + 1;
                await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref identified) == expected), "the peer to be identified", Guard);
            }

            await Assert.That(host.KnownPeerCount).IsEqualTo(options.MaxUntrustedPeersInAddressBook + 1);
            await Assert.That(host.KnownAddresses(trustedId).Count).IsEqualTo(1);
            await Assert.That(host.KnownAddresses(peers[^1].PeerId).Count).IsEqualTo(1);
            await Assert.That(host.KnownAddresses(peers[1].PeerId).Count).IsEqualTo(0);
        }
        finally
        {
            foreach (var peer in peers)
                await peer.DisposeAsync();
        }
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Host;

public class HostTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    internal static async Task<(Libp2pHost Host, Multiaddr Address)> StartHost(Libp2pHostOptions? options = null, PeerIdentity? identity = null)
    {
        var host = new Libp2pHost(identity ?? PeerIdentity.Generate(), options);
        EchoProtocol.Register(host);
        var bound = await host.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));
        return (host, bound.WithPeerId(host.PeerId));
    }

    [Test]
    public async Task Two_hosts_identify_each_other_both_ways()
    {
        var (a, addressA) = await StartHost();
        var (b, addressB) = await StartHost();
        await using var _ = a;
        await using var __ = b;
        var inbound = new TaskCompletionSource<Libp2pConnection>();
        a.ConnectionOpened += c => inbound.TrySetResult(c);

        var fromB = await b.DialAsync(addressA).WaitAsync(Guard);
        var seenByB = await fromB.Identified.WaitAsync(Guard);
        var atA = await inbound.Task.WaitAsync(Guard);
        var seenByA = await atA.Identified.WaitAsync(Guard);

        await Assert.That(fromB.RemotePeer).IsEqualTo(a.PeerId);
        await Assert.That(atA.RemotePeer).IsEqualTo(b.PeerId);
        await Assert.That(seenByB.Protocols).Contains(EchoProtocol.Id);
        await Assert.That(seenByB.Protocols).Contains(PingProtocol.ProtocolId);
        await Assert.That(seenByA.Protocols).Contains(IdentifyProtocol.ProtocolId);
        await Assert.That(seenByB.ListenAddresses.Select(m => m.ToString())).Contains(addressA.WithoutPeerId().ToString());
        await Assert.That(seenByA.ListenAddresses.Select(m => m.ToString())).Contains(addressB.WithoutPeerId().ToString());
        await Assert.That(seenByB.ObservedAddress!.ToString()).IsEqualTo(fromB.LocalAddress.ToString());
        await Assert.That(seenByA.ObservedAddress!.ToString()).IsEqualTo(fromB.RemoteAddress.ToString());
        await Assert.That(seenByB.AgentVersion).IsEqualTo("peercompute/0.1.0");
    }

    [Test]
    public async Task Ping_works_both_ways_over_one_reused_connection()
    {
        var (a, addressA) = await StartHost();
        var (b, _) = await StartHost();
        await using var _ = a;
        await using var __ = b;
        var first = await b.DialAsync(addressA).WaitAsync(Guard);
        var second = await b.DialAsync(addressA).WaitAsync(Guard);

        var rttB = await b.PingAsync(a.PeerId).WaitAsync(Guard);
        var rttA = await a.PingAsync(b.PeerId).WaitAsync(Guard);

        await Assert.That(second).IsSameReferenceAs(first);
        await Assert.That(rttA).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(rttB).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(a.Connections.Count).IsEqualTo(1);
        await Assert.That(b.Connections.Count).IsEqualTo(1);
    }

    [Test]
    public async Task A_hundred_echo_streams_at_once_and_a_64_MiB_transfer_each_way()
    {
        var (a, addressA) = await StartHost();
        var (b, _) = await StartHost();
        await using var _ = a;
        await using var __ = b;
        var connection = await b.DialAsync(addressA).WaitAsync(Guard);
        var many = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => EchoProtocol.RoundTripAsync(connection, 1000 + i * 100))).WaitAsync(Guard);
        var big = await EchoProtocol.RoundTripAsync(connection, 64 * 1024 * 1024).WaitAsync(Guard);
        var reverse = await EchoProtocol.RoundTripAsync(a.GetConnection(b.PeerId)!, 64 * 1024 * 1024).WaitAsync(Guard);

        await Assert.That(many.All(ok => ok)).IsTrue();
        await Assert.That(big).IsTrue();
        await Assert.That(reverse).IsTrue();
    }

    [Test]
    public async Task An_unknown_protocol_gets_na_and_the_connection_stays_usable()
    {
        var (a, addressA) = await StartHost();
        var (b, _) = await StartHost();
        await using var _ = a;
        await using var __ = b;
        var connection = await b.DialAsync(addressA).WaitAsync(Guard);

        var error = await Assert.That(async () => await connection.OpenStreamAsync("/not/served/1.0.0", CancellationToken.None).WaitAsync(Guard))
            .Throws<Libp2pProtocolException>();
        var chosen = await connection.OpenStreamAsync(["/not/served/1.0.0", EchoProtocol.Id], CancellationToken.None).WaitAsync(Guard);

        await Assert.That(error!.Message).Contains("supports none");
        await Assert.That(chosen.Protocol).IsEqualTo(EchoProtocol.Id);
        await Assert.That(connection.IsClosed).IsFalse();
    }

    [Test]
    public async Task Dialling_an_address_whose_peer_id_does_not_match_fails()
    {
        var (a, addressA) = await StartHost();
        var (b, _) = await StartHost();
        await using var _ = a;
        await using var __ = b;
        using var someoneElse = PeerIdentity.Generate();
        var wrong = addressA.WithPeerId(someoneElse.PeerId);

        var error = await Assert.That(async () => await b.DialAsync(wrong).WaitAsync(Guard)).Throws<Libp2pProtocolException>();
        await Assert.That(error!.Message).Contains(a.PeerId.ToString());
        // Who really answered, for the CLI to name it.
        await Assert.That(error.ActualPeer).IsEqualTo(a.PeerId);
        await Assert.That(b.Connections.Count).IsEqualTo(0);
        // The listener is still serving.
        await b.DialAsync(addressA).WaitAsync(Guard);
        await Assert.That(await b.PingAsync(a.PeerId).WaitAsync(Guard)).IsGreaterThan(TimeSpan.Zero);
    }

    [Test]
    public async Task A_peer_that_lists_no_muxer_in_noise_negotiates_yamux_with_multistream()
    {
        var (a, addressA) = await StartHost();
        await using var _ = a;
        using var identity = PeerIdentity.Generate();
        await using var raw = await RawPeer.ConnectAsync(addressA);
        await PeerCompute.Net.Multistream.MultistreamSelect.SelectAsync(raw.Stream, "/noise", CancellationToken.None);
        var secured = await PeerCompute.Net.Noise.NoiseSecurity.SecureOutboundAsync(raw.Stream, identity, a.PeerId, [], CancellationToken.None);
        await Assert.That(string.Join(",", secured.RemoteStreamMuxers)).IsEqualTo("/yamux/1.0.0");

        var muxer = await PeerCompute.Net.Multistream.MultistreamSelect.SelectAsync(secured.Stream, "/yamux/1.0.0", CancellationToken.None).WaitAsync(Guard);
        await using var session = PeerCompute.Mux.YamuxSession.Start(secured.Stream, isClient: true);
        var stream = await session.OpenStreamAsync();
        await PeerCompute.Net.Multistream.MultistreamSelect.SelectAsync(stream, PingProtocol.ProtocolId, CancellationToken.None).WaitAsync(Guard);
        var rtt = await PingProtocol.PingAsync(stream, CancellationToken.None).WaitAsync(Guard);

        await Assert.That(muxer).IsEqualTo("/yamux/1.0.0");
        await Assert.That(rtt).IsGreaterThan(TimeSpan.Zero);
    }

    [Test]
    public async Task A_dns4_address_and_an_ip6_listener_are_dialled_too()
    {
        var (a, addressA) = await StartHost();
        await using var scope = a;
        var v6 = await a.ListenAsync(Multiaddr.Parse("/ip6/::1/tcp/0"));
        await using var b = new Libp2pHost(PeerIdentity.Generate());
        await using var c = new Libp2pHost(PeerIdentity.Generate());
        addressA.TryGetTcpTarget(out string _, out int port);

        var byName = await b.DialAsync(Multiaddr.Parse($"/dns4/localhost/tcp/{port}/p2p/{a.PeerId}")).WaitAsync(Guard);
        var overV6 = await c.DialAsync(v6.WithPeerId(a.PeerId)).WaitAsync(Guard);

        await Assert.That(byName.RemoteAddress.ToString()).IsEqualTo($"/ip4/127.0.0.1/tcp/{port}");
        await Assert.That(overV6.RemoteAddress.ToString()).StartsWith("/ip6/::1/tcp/");
        await Assert.That(await c.PingAsync(a.PeerId).WaitAsync(Guard)).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(a.ListenAddresses.Count).IsEqualTo(2);
    }

    [Test]
    public async Task Closing_a_host_closes_its_connections_at_the_peer()
    {
        var (a, addressA) = await StartHost();
        var (b, _) = await StartHost();
        await using var __ = b;
        var connection = await b.DialAsync(addressA).WaitAsync(Guard);
        var closed = new TaskCompletionSource();
        b.ConnectionClosed += c => closed.TrySetResult();
        await a.DisposeAsync();
        await connection.Closed.WaitAsync(Guard);
        await closed.Task.WaitAsync(Guard);
        await Assert.That(b.GetConnection(a.PeerId)).IsNull();
    }
}

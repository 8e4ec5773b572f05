using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Tests.Support;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Tests.Interop;

/// <summary>
/// DCUtR (<c>/libp2p/dcutr</c>) between our host and js-libp2p 3.3.11 (@libp2p/dcutr 3.0.28), each role on each side,
/// through our relay. js's TCP transport does not dial from its listening port, so through a real NAT js cannot be
/// hole-punched to; these tests prove the protocol instead, with no NAT in between: the relay, the js node and our host
/// all live in the public namespace of a NAT lab, each on its own port of <see cref="NatLab.PublicHostAddress"/> (a
/// 10.x address, so js runs with <c>--dcutr-allow-private</c>; loopback would be refused by our side).
/// </summary>
public sealed class DcutrInteropTests
{
    private const int TestTimeoutMs = 180_000;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private sealed class Scene(NatLab lab, Libp2pHost relay, CircuitRelayServer server, Multiaddr relayAddress) : IAsyncDisposable
    {
        public NatLab Lab { get; } = lab;
        public Multiaddr RelayAddress { get; } = relayAddress;
        public List<IAsyncDisposable> Others { get; } = [];

        public async ValueTask DisposeAsync()
        {
            for (int i = Others.Count - 1; i >= 0; i--)
                await Others[i].DisposeAsync();
            await server.DisposeAsync();
            await relay.DisposeAsync();
            await Lab.DisposeAsync();
        }
    }

    /// <summary>A TCP transport whose sockets live in the lab's public namespace.</summary>
    private static TcpTransport InPublicNamespace(NatLab lab, bool reuse) => new()
    {
        ReuseListenPort = reuse,
        SocketFactory = family => lab.RunInNamespaceAsync(lab.PublicNamespace, () => new Socket(family, SocketType.Stream, ProtocolType.Tcp)).GetAwaiter().GetResult(),
    };

    private static async Task<Scene> StartAsync(CancellationToken ct)
    {
        var lab = await NatLab.CreateAsync(new NatLabOptions(), ct);
        var relay = new Libp2pHost(PeerIdentity.Generate(), null, null, [InPublicNamespace(lab, reuse: false)]);
        var address = (await relay.ListenAsync(Multiaddr.Parse($"/ip4/{lab.PublicHostAddress}/tcp/0"), ct)).WithPeerId(relay.PeerId);
        var server = new CircuitRelayServer(relay, new CircuitRelayOptions { MayReserve = _ => true });
        return new Scene(lab, relay, server, address);
    }

    private static async Task<JsPeer> StartJsAsync(Scene scene, CancellationToken ct, params string[] args)
    {
        var js = await JsPeer.StartAsync(new JsPeerOptions
        {
            NetworkNamespace = scene.Lab.PublicNamespace,
            Listen = [$"/ip4/{scene.Lab.PublicHostAddress}/tcp/0"],
            ExtraArgs = args,
        }, ct);
        scene.Others.Add(js);
        return js;
    }

    /// <summary>Our host with hole punching on, in the public namespace, listening on its own port there (and dialling from it).</summary>
    private static async Task<Libp2pHost> StartOursAsync(Scene scene, Func<PeerId, bool> isTrusted, CancellationToken ct)
    {
        var host = new Libp2pHost(PeerIdentity.Generate(), new Libp2pHostOptions { EnableHolePunching = true, IsTrusted = isTrusted }, null,
            [InPublicNamespace(scene.Lab, reuse: true)]);
        scene.Others.Add(host);
        EchoProtocol.Register(host);
        await host.ListenAsync(Multiaddr.Parse($"/ip4/{scene.Lab.PublicHostAddress}/tcp/0"), ct);
        return host;
    }

    private static Task<Libp2pConnection> NextConnection(Libp2pHost host, Func<Libp2pConnection, bool> match)
    {
        var opened = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionOpened += c =>
        {
            if (match(c))
                opened.TrySetResult(c);
        };
        return opened.Task;
    }

    private static Task<JsonElement> JsConnectionEvent(JsPeer js, string name, PeerId peer, bool relayed, int from, CancellationToken ct) =>
        js.WaitForEventAsync(e => JsPeer.EventName(e) == name && Str(e, "peer") == peer.ToString() && Bool(e, "relayed") == relayed, Guard, from, ct);

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    /// <summary>
    /// Ours as B (the provider role: it received the relayed connection and trusts the caller), js as A. Seen in js's
    /// @libp2p/dcutr 3.0.28: A answers our CONNECT with its listen addresses, dials ours as soon as SYNC arrives (as the
    /// client of the upgrade, as the spec says) and closes the relayed connection once that dial is up. With no NAT in
    /// between that dial reaches our listener as a plain inbound connection, while our own dial of A (as the server, as
    /// the spec says) meets js's listener, also a server, and hangs until our dial timeout: the connection that js opened is
    /// the hole punch's result, and our outcome reports it (before, it reported a failure after 3 s although the direct
    /// connection was up).
    /// </summary>
    [Test, Timeout(TestTimeoutMs)]
    public async Task Our_host_as_B_hole_punches_with_a_js_node_that_dialled_it_through_our_relay(CancellationToken ct)
    {
        await using var scene = await StartAsync(ct);
        var js = await StartJsAsync(scene, ct, "--relay-client", "--dcutr", "--dcutr-allow-private");
        PeerId? jsPeer = null;
        var ours = await StartOursAsync(scene, p => p == jsPeer, ct);
        jsPeer = PeerId.Parse(js.PeerId); // learnt from js's ready event
        var state = await ours.ListenThroughRelayAsync(scene.RelayAddress, ct).WaitAsync(Guard, ct);
        await Assert.That(state.IsReserved).IsTrue().Because(state.LastError ?? "");

        var outcome = ours.HolePunch!.OutcomeAsync(jsPeer);
        var relayedHere = NextConnection(ours, c => c.RemotePeer == jsPeer && c.IsRelayed);
        int mark = js.EventMark;
        var dialled = await js.SendAsync("dial", new JsonObject { ["addr"] = $"{scene.RelayAddress}/p2p-circuit/p2p/{ours.PeerId}" }, ct).WaitAsync(Guard, ct);
        var directAtJs = await JsConnectionEvent(js, "connection:open", ours.PeerId, relayed: false, mark, ct);
        var relayedClosedAtJs = await JsConnectionEvent(js, "connection:close", ours.PeerId, relayed: true, mark, ct);
        var result = await outcome.WaitAsync(Guard, ct);
        var relayed = await relayedHere.WaitAsync(Guard, ct);
        await relayed.Closed.WaitAsync(Guard, ct);
        var direct = ours.GetConnection(jsPeer);
        bool echoed = direct is not null && await EchoProtocol.RoundTripAsync(direct, 256 * 1024, ct).WaitAsync(Guard, ct);
        var jsEcho = await js.SendAsync("echo", new JsonObject { ["peer"] = ours.PeerId.ToString(), ["bytesPerStream"] = 256 * 1024 }, ct).WaitAsync(Guard, ct);

        await Assert.That(Bool(dialled, "relayed")).IsTrue();
        await Assert.That(relayed.IsOutbound).IsFalse();
        // js (A) dialled our listening address, the one our relay observed for us, as the client.
        await Assert.That(Str(directAtJs, "direction")).IsEqualTo("outbound");
        await Assert.That(Str(directAtJs, "remoteAddr")).IsEqualTo($"{ours.ObservedAddresses[0]}/p2p/{ours.PeerId}");
        await Assert.That(Str(relayedClosedAtJs, "connectionId")).IsEqualTo(Str(dialled, "connectionId"));
        await Assert.That(result.Succeeded).IsTrue().Because(result.Reason ?? "");
        await Assert.That(result.Attempts).IsEqualTo(1);
        await Assert.That(direct).IsSameReferenceAs(result.Direct);
        await Assert.That(direct!.IsRelayed).IsFalse();
        await Assert.That(direct.IsOutbound).IsFalse();
        await Assert.That(echoed).IsTrue();
        await Assert.That(jsEcho.GetProperty("ok").GetBoolean()).IsTrue();
    }

    /// <summary>
    /// Ours as A (it dialled js's relayed address), js as B. Seen in js 3.3.11: B opens <c>/libp2p/dcutr</c> once identify
    /// showed we speak it, sends CONNECT with its addresses and, after SYNC and half the round trip, dials ours. js's
    /// dcutr asks for that dial with <c>initiator: false</c> (B as the server of the upgrade, as the spec says), but the
    /// connection manager's dial queue passes only peer, priority, addresses and signal on to the transport, so js dials
    /// as the client (its log says "encrypting outbound connection"). Here, with no NAT, that is harmless: js's dial
    /// reaches our listener (we are its server) and ours reaches js's listener (we are its client), two direct
    /// connections, and js closes the relayed one. Through a NAT, where the two dials would be one TCP simultaneous open,
    /// both ends would be clients and the upgrade would fail.
    /// </summary>
    [Test, Timeout(TestTimeoutMs)]
    public async Task Our_host_as_A_answers_a_js_node_that_hole_punches_after_we_dialled_it_through_our_relay(CancellationToken ct)
    {
        await using var scene = await StartAsync(ct);
        var js = await StartJsAsync(scene, ct, "--listen-relay", scene.RelayAddress.ToString(), "--dcutr", "--dcutr-allow-private");
        await js.WaitForEventAsync(e => JsPeer.EventName(e) == "reserved", Guard, 0, ct);
        var jsPeer = PeerId.Parse(js.PeerId);
        // A answers only on relayed connections it dialled, whoever the peer is: it trusts nobody here.
        var ours = await StartOursAsync(scene, _ => false, ct);

        var outcome = ours.HolePunch!.OutcomeAsync(jsPeer);
        var inboundDirect = NextConnection(ours, c => c.RemotePeer == jsPeer && !c.IsRelayed && !c.IsOutbound);
        int mark = js.EventMark;
        var relayed = await ours.DialAsync(Multiaddr.Parse($"{scene.RelayAddress}/p2p-circuit/p2p/{jsPeer}"), ct).WaitAsync(Guard, ct);
        var result = await outcome.WaitAsync(Guard, ct);
        var directAtJs = await JsConnectionEvent(js, "connection:open", ours.PeerId, relayed: false, mark, ct);
        var relayedClosedAtJs = await JsConnectionEvent(js, "connection:close", ours.PeerId, relayed: true, mark, ct);
        await relayed.Closed.WaitAsync(Guard, ct);
        var fromJs = await inboundDirect.WaitAsync(Guard, ct);
        var direct = ours.GetConnection(jsPeer);
        bool echoed = direct is not null && await EchoProtocol.RoundTripAsync(direct, 256 * 1024, ct).WaitAsync(Guard, ct);
        var jsEcho = await js.SendAsync("echo", new JsonObject { ["peer"] = ours.PeerId.ToString(), ["bytesPerStream"] = 256 * 1024 }, ct).WaitAsync(Guard, ct);

        await Assert.That(relayed.IsRelayed).IsTrue();
        await Assert.That(result.Succeeded).IsTrue().Because(result.Reason ?? "");
        await Assert.That(result.Direct!.IsRelayed).IsFalse();
        // Our dial (from our listening port, so js sees our listening address) or js's, whichever was up first.
        await Assert.That(result.Direct.HolePunched || ReferenceEquals(result.Direct, fromJs)).IsTrue();
        await Assert.That(Str(directAtJs, "remoteAddr")).IsEqualTo($"{ours.ListenAddresses[0]}/p2p/{ours.PeerId}");
        await Assert.That(Str(relayedClosedAtJs, "remoteAddr")).IsEqualTo($"{scene.RelayAddress}/p2p-circuit/p2p/{ours.PeerId}");
        await Assert.That(direct).IsNotNull();
        await Assert.That(direct!.IsRelayed).IsFalse();
        await Assert.That(echoed).IsTrue();
        await Assert.That(jsEcho.GetProperty("ok").GetBoolean()).IsTrue();
    }
}

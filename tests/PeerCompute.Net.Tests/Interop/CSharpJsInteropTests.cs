using System.Text.Json;
using System.Text.Json.Nodes;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Tests.Host;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Interop;

/// <summary>Our host against a real js-libp2p 3.3.11 node (tests/interop/js), in both directions.</summary>
public sealed class CSharpJsInteropTests
{
    private const int TestTimeoutMs = 300_000;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(60);
    private const int BigTransfer = 64 * 1024 * 1024;

    private static async Task<(Libp2pHost Host, Multiaddr Address)> StartHost() => await HostTests.StartHost();

    /// <summary>Which side dials: the C# host dials js, or js dials the C# host.</summary>
    public enum Dialer { CSharp, Js }

    private static async Task<Libp2pConnection> Connect(Libp2pHost host, Multiaddr address, JsPeer js, Dialer dialer, CancellationToken ct)
    {
        if (dialer == Dialer.CSharp)
        {
            var dialled = await host.DialAsync(Multiaddr.Parse(js.Addrs[0]), ct);
            // js negotiates each inbound stream within 10 s of its opening; on a loaded machine its connection
            // set-up can eat that, so let identify finish before the tests open streams.
            await dialled.Identified.WaitAsync(EventTimeout, ct);
            return dialled;
        }
        var opened = new TaskCompletionSource<Libp2pConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.ConnectionOpened += c => opened.TrySetResult(c);
        var result = await js.SendAsync("dial", new JsonObject { ["addr"] = address.ToString() }, ct);
        await Assert.That(Str(result, "peer")).IsEqualTo(host.PeerId.ToString());
        await Assert.That(Str(result, "multiplexer")).IsEqualTo("/yamux/1.0.0");
        var accepted = await opened.Task.WaitAsync(EventTimeout, ct);
        await accepted.Identified.WaitAsync(EventTimeout, ct);
        return accepted;
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(Dialer.CSharp)]
    [Arguments(Dialer.Js)]
    public async Task Identify_both_ways_shows_protocols_and_listen_addresses(Dialer dialer, CancellationToken ct)
    {
        var (host, address) = await StartHost();
        await using var _ = host;
        await using var js = await JsPeer.StartAsync(null, ct);

        var connection = await Connect(host, address, js, dialer, ct);
        var seenByUs = await connection.Identified.WaitAsync(EventTimeout, ct);
        var seenByJs = await js.WaitForEventAsync(e => JsPeer.EventName(e) == "identify" && Str(e, "peer") == host.PeerId.ToString(), EventTimeout, 0, ct);

        await Assert.That(connection.RemotePeer.ToString()).IsEqualTo(js.PeerId);
        await Assert.That(seenByUs.Protocols).Contains(EchoProtocol.Id);
        await Assert.That(seenByUs.Protocols).Contains(PingProtocol.ProtocolId);
        await Assert.That(seenByUs.AgentVersion!).StartsWith("js-libp2p/");
        var jsListen = js.Addrs[0][..js.Addrs[0].IndexOf("/p2p/", StringComparison.Ordinal)];
        await Assert.That(seenByUs.ListenAddresses.Select(a => a.ToString())).Contains(jsListen);

        await Assert.That(Strings(seenByJs, "protocols")).Contains(EchoProtocol.Id);
        await Assert.That(Strings(seenByJs, "protocols")).Contains(IdentifyProtocol.ProtocolId);
        await Assert.That(Strings(seenByJs, "protocols")).Contains(PingProtocol.ProtocolId);
        await Assert.That(Strings(seenByJs, "listenAddrs")).Contains(address.WithoutPeerId().ToString());
        await Assert.That(Str(seenByJs, "agentVersion")).IsEqualTo("peercompute/0.1.0");
        await Assert.That(Str(seenByJs, "publicKey")).IsEqualTo(Hex.Of(host.PeerId.TryGetEd25519PublicKey(out var key) ? KeyProtobuf.EncodeEd25519PublicKey(key) : []));
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(Dialer.CSharp)]
    [Arguments(Dialer.Js)]
    public async Task Ping_works_both_ways(Dialer dialer, CancellationToken ct)
    {
        var (host, address) = await StartHost();
        await using var _ = host;
        await using var js = await JsPeer.StartAsync(null, ct);
        await Connect(host, address, js, dialer, ct);

        var ours = await host.PingAsync(PeerId.Parse(js.PeerId), ct);
        var theirs = await js.SendAsync("ping", new JsonObject { ["peer"] = host.PeerId.ToString(), ["count"] = 5 }, ct);

        await Assert.That(ours).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(theirs.GetProperty("rtts").GetArrayLength()).IsEqualTo(5);
        await Assert.That(host.Connections.Count).IsEqualTo(1);
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(Dialer.CSharp)]
    [Arguments(Dialer.Js)]
    public async Task Echo_a_hundred_streams_at_once_and_64_MiB_checked_by_hash_each_way(Dialer dialer, CancellationToken ct)
    {
        var (host, address) = await StartHost();
        await using var _ = host;
        await using var js = await JsPeer.StartAsync(null, ct);
        var connection = await Connect(host, address, js, dialer, ct);

        // C# opens the streams, js echoes.
        var ours = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => EchoProtocol.RoundTripAsync(connection, 4096 + i * 64, ct)));
        var oursBig = await EchoProtocol.RoundTripAsync(connection, BigTransfer, ct);
        // js opens the streams, C# echoes (js compares every byte).
        var theirs = await js.SendAsync("echo", new JsonObject { ["peer"] = host.PeerId.ToString(), ["streams"] = 100, ["bytesPerStream"] = 4096 }, ct);
        var theirsBig = await js.SendAsync("echo", new JsonObject { ["peer"] = host.PeerId.ToString(), ["streams"] = 1, ["bytesPerStream"] = BigTransfer }, ct);

        await Assert.That(ours.All(ok => ok)).IsTrue();
        await Assert.That(oursBig).IsTrue();
        await Assert.That(theirs.GetProperty("ok").GetBoolean()).IsTrue();
        await Assert.That(theirsBig.GetProperty("ok").GetBoolean()).IsTrue();
        await Assert.That(connection.IsClosed).IsFalse();
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(Dialer.CSharp)]
    [Arguments(Dialer.Js)]
    public async Task The_connection_stays_healthy_for_45_seconds_under_the_js_connection_monitor(Dialer dialer, CancellationToken ct)
    {
        var (host, address) = await StartHost();
        await using var _ = host;
        await using var js = await JsPeer.StartAsync(new JsPeerOptions { ConnectionMonitor = true }, ct);
        var connection = await Connect(host, address, js, dialer, ct);
        int mark = js.EventMark;

        // The soak itself is the behaviour under test: js pings every 10 s and aborts on any failure.
        var closed = js.WaitForEventAsync(e => JsPeer.EventName(e) == "connection:close", TimeSpan.FromSeconds(45), mark, ct);
        await Assert.That(async () => await closed).Throws<TimeoutException>();

        await Assert.That(connection.IsClosed).IsFalse();
        var ping = await js.SendAsync("ping", new JsonObject { ["peer"] = host.PeerId.ToString() }, ct);
        await Assert.That(ping.GetProperty("rtt").GetDouble()).IsGreaterThanOrEqualTo(0);
        await Assert.That(await host.PingAsync(PeerId.Parse(js.PeerId), ct)).IsGreaterThan(TimeSpan.Zero);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Dialling_js_under_a_wrong_peer_id_fails_the_handshake(CancellationToken ct)
    {
        var (host, _) = await StartHost();
        await using var __ = host;
        await using var js = await JsPeer.StartAsync(null, ct);
        using var other = PeerIdentity.Generate();
        var wrong = Multiaddr.Parse(js.Addrs[0]).WithPeerId(other.PeerId);

        var error = await Assert.That(async () => await host.DialAsync(wrong, ct)).Throws<Libp2pProtocolException>();
        await Assert.That(error!.Message).Contains(js.PeerId);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Js_refuses_our_host_under_a_wrong_peer_id(CancellationToken ct)
    {
        var (host, address) = await StartHost();
        await using var __ = host;
        await using var js = await JsPeer.StartAsync(null, ct);
        using var other = PeerIdentity.Generate();
        var wrong = address.WithPeerId(other.PeerId);

        await Assert.That(async () => await js.SendAsync("dial", new JsonObject { ["addr"] = wrong.ToString() }, ct)).Throws<JsPeerException>();
        // and a correct dial still works afterwards
        var ok = await js.SendAsync("dial", new JsonObject { ["addr"] = address.ToString() }, ct);
        await Assert.That(Str(ok, "peer")).IsEqualTo(host.PeerId.ToString());
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task An_untrusted_js_node_connects_identifies_and_pings_within_the_tightest_limits(CancellationToken ct)
    {
        // Room for one stranger in all, one handshake at a time, one stranger in the address book; nobody is trusted.
        var options = new Libp2pHostOptions
        {
            MaxInboundConnections = 3,
            MaxPendingInboundConnections = 1,
            MaxPendingInboundPerAddress = 1,
            MaxUntrustedConnections = 1,
            MaxUntrustedConnectionsPerAddress = 1,
            MaxUntrustedPeersInAddressBook = 1,
            UntrustedIdleTimeout = TimeSpan.FromMinutes(5),
        };
        var (host, address) = await HostTests.StartHost(options);
        await using var _ = host;
        await using var js = await JsPeer.StartAsync(null, ct);
        var refused = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.InboundConnectionFailed += (_, e) => refused.TrySetResult(e);

        var connection = await Connect(host, address, js, Dialer.Js, ct);
        var seenByJs = await js.WaitForEventAsync(e => JsPeer.EventName(e) == "identify" && Str(e, "peer") == host.PeerId.ToString(), EventTimeout, 0, ct);
        var theirs = await js.SendAsync("ping", new JsonObject { ["peer"] = host.PeerId.ToString(), ["count"] = 3 }, ct);
        var ours = await host.PingAsync(PeerId.Parse(js.PeerId), ct);
        // While js holds the one untrusted slot, another stranger is turned away after its handshake.
        await using (var stranger = new Libp2pHost(PeerIdentity.Generate()))
        {
            try
            {
                await stranger.DialAsync(address, ct);
            }
            catch (Exception e) when (e is Libp2pProtocolException or IOException)
            {
                // Depending on timing the stranger sees the close during or after its handshake.
            }
        }
        var refusal = await refused.Task.WaitAsync(EventTimeout, ct);

        await Assert.That(connection.RemoteIdentify!.AgentVersion!).StartsWith("js-libp2p/");
        await Assert.That(Strings(seenByJs, "protocols")).Contains(PingProtocol.ProtocolId);
        await Assert.That(theirs.GetProperty("rtts").GetArrayLength()).IsEqualTo(3);
        await Assert.That(ours).IsGreaterThan(TimeSpan.Zero);
        await Assert.That(refusal.Message).Contains("untrusted peers are open already");
        await Assert.That(connection.IsClosed).IsFalse();
        await Assert.That(host.InboundCounts.Untrusted).IsEqualTo(1);
    }

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static List<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? [.. v.EnumerateArray().Select(x => x.GetString() ?? "")] : [];
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeerCompute.Net.Tests.Interop;

/// <summary>
/// Two js-libp2p peers driven through <see cref="JsPeer"/>: proves the harness (process control, commands,
/// events, echo and bench protocols) before the C# stack's interop tests rely on it.
/// </summary>
public sealed class JsPeerSmokeTests
{
    private const string EchoProtocol = "/peercompute/echo/1.0.0";
    private const string BenchProtocol = "/peercompute/bench/1.0.0";
    private const int TestTimeoutMs = 300_000;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(60);

    // Bulk tests keep js's connection monitor on but tolerant: on a loaded machine its pings wait behind
    // megabytes of queued data for more than its 5 s default, and a late ping aborts the connection.
    private static readonly JsPeerOptions BulkOptions = new() { MonitorTimeoutMs = 120_000 };

    // Test vector captured against js-libp2p (see Support/Vectors.cs).
    private const string VectorPrivateKey =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string VectorPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    [Test, Timeout(TestTimeoutMs)]
    public async Task Dial_then_identify_both_ways_shows_the_other_peers_protocols(CancellationToken cancellationToken)
    {
        await using var a = await JsPeer.StartAsync(null, cancellationToken);
        await using var b = await JsPeer.StartAsync(null, cancellationToken);

        var connection = await a.SendAsync("dial", new JsonObject { ["addr"] = b.Addrs[0] }, cancellationToken);
        await Assert.That(Str(connection, "peer")).IsEqualTo(b.PeerId);
        await Assert.That(Str(connection, "encryption")).IsEqualTo("/noise");
        await Assert.That(Str(connection, "multiplexer")).IsEqualTo("/yamux/1.0.0");

        var inbound = await b.WaitForEventAsync(
            e => JsPeer.EventName(e) == "connection:open" && Str(e, "peer") == a.PeerId, EventTimeout, 0, cancellationToken);
        await Assert.That(Str(inbound, "direction")).IsEqualTo("inbound");

        // Identify runs by itself on each new connection, on both sides.
        var aSawB = await a.WaitForEventAsync(e => IsIdentifyOf(e, b.PeerId), EventTimeout, 0, cancellationToken);
        var bSawA = await b.WaitForEventAsync(e => IsIdentifyOf(e, a.PeerId), EventTimeout, 0, cancellationToken);
        foreach (var seen in new[] { aSawB, bSawA })
        {
            var protocols = Strings(seen, "protocols");
            await Assert.That(protocols).Contains(EchoProtocol);
            await Assert.That(protocols).Contains(BenchProtocol);
            await Assert.That(protocols).Contains("/ipfs/id/1.0.0");
            await Assert.That(protocols).Contains("/ipfs/ping/1.0.0");
            await Assert.That(Str(seen, "agentVersion")).StartsWith("js-libp2p/");
        }

        // The command runs a fresh identify and reports what the remote listens on.
        var fresh = await b.SendAsync("identify", new JsonObject { ["peer"] = a.PeerId }, cancellationToken);
        await Assert.That(Strings(fresh, "protocols")).Contains(EchoProtocol);
        var aListen = a.Addrs[0][..a.Addrs[0].IndexOf("/p2p/", StringComparison.Ordinal)];
        await Assert.That(Strings(fresh, "listenAddrs")).Contains(aListen);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Ping_works_both_ways(CancellationToken cancellationToken)
    {
        var (a, b) = await StartConnectedPairAsync(cancellationToken);
        await using (a)
        await using (b)
        {
            var ab = await a.SendAsync("ping", new JsonObject { ["peer"] = b.PeerId, ["count"] = 3 }, cancellationToken);
            var ba = await b.SendAsync("ping", new JsonObject { ["peer"] = a.PeerId }, cancellationToken);
            await Assert.That(ab.GetProperty("rtts").GetArrayLength()).IsEqualTo(3);
            await Assert.That(ab.GetProperty("rtt").GetDouble()).IsGreaterThanOrEqualTo(0);
            await Assert.That(ba.GetProperty("rtt").GetDouble()).IsGreaterThanOrEqualTo(0);
        }
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Echo_over_100_concurrent_streams_returns_every_byte(CancellationToken cancellationToken)
    {
        var (a, b) = await StartConnectedPairAsync(cancellationToken, BulkOptions);
        await using (a)
        await using (b)
        {
            var echo = await a.SendAsync(
                "echo", new JsonObject { ["peer"] = b.PeerId, ["streams"] = 100, ["bytesPerStream"] = 64 * 1024 }, cancellationToken);
            await Assert.That(echo.GetProperty("failures").GetRawText()).IsEqualTo("[]");
            await Assert.That(echo.GetProperty("ok").GetBoolean()).IsTrue();
            await Assert.That(echo.GetProperty("streams").GetInt32()).IsEqualTo(100);
        }
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Sending_64_MiB_reports_the_hash_the_receiver_computed(CancellationToken cancellationToken)
    {
        const long Bytes = 64L * 1024 * 1024;
        var (a, b) = await StartConnectedPairAsync(cancellationToken, BulkOptions);
        await using (a)
        await using (b)
        {
            var mark = b.EventMark;
            var sent = await a.SendAsync("send", new JsonObject { ["peer"] = b.PeerId, ["bytes"] = Bytes }, cancellationToken);
            await Assert.That(sent.GetProperty("bytes").GetInt64()).IsEqualTo(Bytes);
            await Assert.That(sent.GetProperty("match").GetBoolean()).IsTrue();
            await Assert.That(Str(sent, "remoteSha256")).IsEqualTo(Str(sent, "sha256"));

            // The receiving js peer reports the same digest on its side.
            var served = await b.WaitForEventAsync(
                e => JsPeer.EventName(e) == "bench:served" && Str(e, "op") == "push", EventTimeout, mark, cancellationToken);
            await Assert.That(Str(served, "sha256")).IsEqualTo(Str(sent, "sha256"));
            await Assert.That(served.GetProperty("bytes").GetInt64()).IsEqualTo(Bytes);

            // And the other direction of the bench protocol: pull N bytes plus the sender's digest.
            var received = await a.SendAsync("receive", new JsonObject { ["peer"] = b.PeerId, ["bytes"] = Bytes }, cancellationToken);
            await Assert.That(received.GetProperty("match").GetBoolean()).IsTrue();
            await Assert.That(Str(received, "sha256")).IsNotEqualTo(Str(sent, "sha256"));
        }
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task A_fixed_key_gives_the_PeerId_of_the_test_vector(CancellationToken cancellationToken)
    {
        await using var peer = await JsPeer.StartAsync(new JsPeerOptions { PrivateKeyHex = VectorPrivateKey }, cancellationToken);
        await Assert.That(peer.PeerId).IsEqualTo(VectorPeerId);
        await Assert.That(peer.Addrs[0]).EndsWith("/p2p/" + VectorPeerId);
        await Assert.That(Str(peer.Ready, "publicKey"))
            .IsEqualTo("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task A_failing_command_throws_with_the_js_reason(CancellationToken cancellationToken)
    {
        await using var peer = await JsPeer.StartAsync(null, cancellationToken);
        var error = await Assert.ThrowsAsync<JsPeerException>(
            () => peer.SendAsync("dial", new JsonObject { ["addr"] = "/ip4/127.0.0.1/tcp/1" }, cancellationToken));
        await Assert.That(error!.Message).StartsWith("js dial:");

        // The peer still answers afterwards.
        var connections = await peer.SendAsync("connections", null, cancellationToken);
        await Assert.That(connections.GetProperty("connections").GetArrayLength()).IsEqualTo(0);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Hangup_closes_the_connection_on_both_sides(CancellationToken cancellationToken)
    {
        var (a, b) = await StartConnectedPairAsync(cancellationToken);
        await using (a)
        await using (b)
        {
            var mark = b.EventMark;
            await a.SendAsync("hangup", new JsonObject { ["peer"] = b.PeerId }, cancellationToken);
            await b.WaitForEventAsync(
                e => JsPeer.EventName(e) == "connection:close" && Str(e, "peer") == a.PeerId, EventTimeout, mark, cancellationToken);
            var left = await a.SendAsync("connections", null, cancellationToken);
            await Assert.That(left.GetProperty("connections").GetArrayLength()).IsEqualTo(0);
        }
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Mdns_peers_in_a_private_namespace_discover_each_other(CancellationToken cancellationToken)
    {
        await using var ns = await TestNetworkNamespace.CreateAsync(cancellationToken);
        var options = new JsPeerOptions { Mdns = true, MdnsIntervalMs = 1000, NetworkNamespace = ns.Name };
        await using var a = await JsPeer.StartAsync(options, cancellationToken);
        await using var b = await JsPeer.StartAsync(options, cancellationToken);

        var found = await a.WaitForEventAsync(
            e => JsPeer.EventName(e) == "discovered" && Str(e, "peer") == b.PeerId, EventTimeout, 0, cancellationToken);
        await Assert.That(Str(found, "source")).IsEqualTo("mdns");
        var bListen = b.Addrs[0][..b.Addrs[0].IndexOf("/p2p/", StringComparison.Ordinal)];
        await Assert.That(Strings(found, "addrs")).Contains(bListen);
        await b.WaitForEventAsync(
            e => JsPeer.EventName(e) == "discovered" && Str(e, "peer") == a.PeerId, EventTimeout, 0, cancellationToken);
    }

    [Test]
    public async Task Mdns_outside_a_namespace_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => JsPeer.StartAsync(new JsPeerOptions { Mdns = true }));
    }

    private static async Task<(JsPeer A, JsPeer B)> StartConnectedPairAsync(
        CancellationToken cancellationToken, JsPeerOptions? options = null)
    {
        var a = await JsPeer.StartAsync(options, cancellationToken);
        JsPeer? b = null;
        try
        {
            b = await JsPeer.StartAsync(options, cancellationToken);
            await a.SendAsync("dial", new JsonObject { ["addr"] = b.Addrs[0] }, cancellationToken);
            // Both sides finished identify: the connection is fully up.
            await a.WaitForEventAsync(e => IsIdentifyOf(e, b.PeerId), EventTimeout, 0, cancellationToken);
            await b.WaitForEventAsync(e => IsIdentifyOf(e, a.PeerId), EventTimeout, 0, cancellationToken);
            return (a, b);
        }
        catch
        {
            if (b is not null) await b.DisposeAsync();
            await a.DisposeAsync();
            throw;
        }
    }

    private static bool IsIdentifyOf(JsonElement e, string peerId) =>
        JsPeer.EventName(e) == "identify" && Str(e, "peer") == peerId;

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static List<string> Strings(JsonElement e, string name) =>
        [.. e.GetProperty(name).EnumerateArray().Select(v => v.GetString() ?? "")];
}

using System.Net;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>Strangers with no credentials cannot take the gateway's shared limits away from everyone else.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayAbuseTests
{
    [Test]
    public async Task Made_up_hostnames_from_one_client_leave_the_rate_limit_table_empty_and_others_are_served()
    {
        const int madeUp = 5_000;
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        // A small table so a flood that took state would fill it many times over.
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--rate-limit-clients", "1000");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string label = provider.Label("web");
        string tag = label[(label.LastIndexOf('-') + 1)..];
        using var flooder = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.2"), HttpVersion.Version20);
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<HttpStatusCode, int>();

        await Parallel.ForEachAsync(Enumerable.Range(0, madeUp), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, cancellationToken) =>
        {
            // Well-formed names: a made-up deployment of the real provider's tag, or of a tag nobody has.
            string name = i % 2 == 0 ? $"n{i}-{tag}" : $"n{i}-{MadeUpTag(i)}";
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.UrlFor(label));
            request.Headers.Host = $"{name}.{gateway.Domain}";
            using var response = await flooder.SendAsync(request, cancellationToken);
            statuses.AddOrUpdate(response.StatusCode, 1, static (_, n) => n + 1);
        });
        var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);
        using var newcomer = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.3"));
        using var fromNewcomer = await newcomer.GetAsync(gateway.UrlFor(label));
        using var fromFlooder = await flooder.GetAsync(gateway.UrlFor(label));

        await Assert.That(statuses.GetValueOrDefault(HttpStatusCode.NotFound)).IsEqualTo(madeUp);
        await Assert.That(metrics.Body).Contains("peercompute_gateway_rate_limit_buckets 0\n");
        await Assert.That(fromNewcomer.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(fromFlooder.StatusCode).IsEqualTo(HttpStatusCode.OK);
    }

    [Test]
    public async Task A_client_with_its_cap_of_slow_requests_open_gets_429_for_one_more_while_another_client_is_served()
    {
        const int cap = 4;
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--max-requests-per-client", cap.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string url = gateway.UrlFor(provider.Label("web"));
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        using var holder = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.2"));
        using var other = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.3"));

        var held = Enumerable.Range(0, cap).Select(_ => holder.GetAsync(url + "hold", guard.Token)).ToArray();
        // Every held request has reached the slow upstream, so all of them are open at the gateway.
        await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref upstream.Requests) >= cap), "every held request to reach the upstream", TestProvider.Guard);
        using var oneMore = await holder.GetAsync(url + "hold", guard.Token);
        using var fromOther = await other.GetAsync(url, guard.Token);
        upstream.ReleaseHeld();
        var released = await Task.WhenAll(held);
        using var afterwards = await holder.GetAsync(url, guard.Token);
        var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);

        await Assert.That(oneMore.StatusCode).IsEqualTo(HttpStatusCode.TooManyRequests);
        await Assert.That(oneMore.Headers.RetryAfter?.Delta).IsNotNull();
        await Assert.That(fromOther.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(released.All(r => r.StatusCode == HttpStatusCode.OK)).IsTrue();
        await Assert.That(afterwards.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(metrics.Body).Contains("peercompute_gateway_concurrency_limited_total 1\n");
        foreach (var response in released)
            response.Dispose();
    }

    [Test]
    public async Task A_provider_connects_while_one_address_keeps_more_idle_tunnel_connections_open_than_there_are_handshake_slots()
    {
        const int idle = 150; // more than the gateway's 128 handshake slots
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        // Held slots would stay held for longer than the test waits: only the per-address cap can let the provider in.
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--tunnel-handshakes-per-address", "4", "--tunnel-handshake-timeout", "120", "--tunnel-first-byte-timeout", "60");
        using var stop = new CancellationTokenSource();
        int connected = 0;
        var attackers = Enumerable.Range(0, idle).Select(_ => HoldIdleConnectionsAsync(gateway.TunnelPort, IPAddress.Parse("127.0.0.2"), () => Interlocked.Increment(ref connected), stop.Token)).ToArray();
        // Every idle connection has been accepted by the gateway: each beyond the slots it holds was dropped.
        await Eventually.WaitAsync(async () => Volatile.Read(ref connected) >= idle && await HandshakesFailedAsync(gateway) >= idle - 128,
            "every idle connection to be accepted and those beyond the slots dropped", TestProvider.Guard);

        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        var page = await Curl.GetAsync(gateway, provider.Label("web"));
        await stop.CancelAsync();
        await Task.WhenAll(attackers);

        await Assert.That(page.Status).IsEqualTo(200);
    }

    [Test]
    public async Task A_tunnel_connection_that_sends_nothing_is_closed_after_the_first_byte_timeout_not_the_handshake_timeout()
    {
        using var pki = TestPki.Create();
        // The handshake timeout is far beyond the guard: only the first-byte timeout can close the connection in time.
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--tunnel-handshake-timeout", "300", "--tunnel-first-byte-timeout", "1");
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.TunnelPort), guard.Token);

        int read = await socket.ReceiveAsync(new byte[1], guard.Token);

        await Assert.That(read).IsEqualTo(0);
    }

    /// <summary>Keeps one idle TCP connection to the tunnel port open from <paramref name="source"/>, reconnecting when the gateway closes it.</summary>
    private static async Task HoldIdleConnectionsAsync(int port, IPAddress source, Action onConnected, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[1];
        while (!cancellationToken.IsCancellationRequested)
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            var alive = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                onConnected();
                while (await socket.ReceiveAsync(buffer, cancellationToken) > 0)
                {
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
            }
            // A connection dropped at once is retried at a modest pace (this is a test machine); one that was held
            // until the gateway timed it out is replaced at once, as an attacker would.
            if (alive.Elapsed < TimeSpan.FromSeconds(1))
            {
                try
                {
                    await Task.Delay(200, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static async Task<long> HandshakesFailedAsync(GatewayProcess gateway)
    {
        var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);
        const string name = "peercompute_gateway_tunnel_handshakes_failed_total ";
        int at = metrics.Body.IndexOf("\n" + name, StringComparison.Ordinal);
        if (at < 0)
            return 0;
        int start = at + 1 + name.Length;
        int end = metrics.Body.IndexOf('\n', start);
        return long.Parse(metrics.Body.AsSpan(start, (end < 0 ? metrics.Body.Length : end) - start), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A well-formed tag (12 base32 characters) that no provider has.</summary>
    private static string MadeUpTag(int seed) =>
        string.Create(12, seed, static (chars, value) =>
        {
            for (int i = 0; i < chars.Length; i++, value >>= 5)
                chars[i] = "abcdefghijklmnopqrstuvwxyz234567"[value & 0x1F];
        });
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>
/// The gateway keeps connections to a deployment alive across requests (each one tunnel stream spliced to one
/// container connection): reused, bounded per deployment, closed once idle when its deployment is replaced (a request
/// in flight then finishes where it started), never carrying a request to a stopped deployment, and
/// a connection that died while idle costs the next request nothing.
/// </summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayKeepAliveTests
{
    [Test]
    public async Task Sequential_requests_reuse_one_tunnel_stream_and_one_container_connection()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        for (int i = 0; i < 10; i++)
        {
            // A new client connection each time: the reuse is the gateway's, not the client's.
            using var client = GatewayHttp.Client(gateway);
            var response = await client.GetAsync(gateway.UrlFor(provider.Label("web")));
            await Assert.That(response.StatusCode).IsEqualTo(HttpStatusCode.OK);
        }

        await Assert.That(upstream.Connections.Count).IsEqualTo(1);
        await Assert.That(upstream.Connections.Values.Single()).IsEqualTo(10);
        await Assert.That(provider.Client.ActiveConnections).IsEqualTo(1);
    }

    [Test]
    public async Task A_replaced_deployments_kept_connection_closes_once_idle_and_later_requests_reach_the_replacement()
    {
        using var pki = TestPki.Create();
        await using var old = await UpstreamServer.StartAsync("old");
        await using var replacement = await UpstreamServer.StartAsync("new");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var routes = new Dictionary<string, IPEndPoint> { ["web"] = old.EndPoint };
        // Quiet for 20 ms counts as idle here: the polls below pause 100 ms, so the kept connection is idle between them
        // whatever the machine's load (with the default 200 ms a busy client can keep it in use, and at the old container).
        await using var provider = TestProvider.For(gateway, routes, configure: o => o with { DrainQuiet = TimeSpan.FromMilliseconds(20) }).Start();
        await provider.WaitReadyAsync();
        using var client = GatewayHttp.Client(gateway);
        string url = gateway.UrlFor(provider.Label("web"));
        string before = await client.GetStringAsync(url);

        // The deployment is replaced: same name, another container. The provider is told, as the daemon does.
        routes["web"] = replacement.EndPoint;
        provider.Client.SetRoutes(routes.Keys);
        // The old container still serves (an update stops it only after the switch), so a request that takes the kept
        // connection in the moment before it closes is answered there; once closed, every request reaches the new one.
        await Eventually.WaitAsync(async () => (await client.GetStringAsync(url)).Contains(": new", StringComparison.Ordinal), "a request reaching the replacement");
        int oldRequests = old.Requests;
        var answers = new List<string>();
        for (int i = 0; i < 5; i++)
            answers.Add(await client.GetStringAsync(url));

        await Assert.That(before).Contains(": old");
        await Assert.That(answers.All(a => a.Contains(": new", StringComparison.Ordinal))).IsTrue();
        await Assert.That(old.Requests).IsEqualTo(oldRequests);
    }

    [Test]
    public async Task A_request_in_flight_when_its_route_moves_is_answered_by_the_old_container()
    {
        using var pki = TestPki.Create();
        await using var old = await UpstreamServer.StartAsync("old");
        await using var replacement = await UpstreamServer.StartAsync("new");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var routes = new Dictionary<string, IPEndPoint> { ["web"] = old.EndPoint };
        await using var provider = TestProvider.For(gateway, routes).Start();
        await provider.WaitReadyAsync();
        using var client = GatewayHttp.Client(gateway);
        string url = gateway.UrlFor(provider.Label("web"));
        using var guard = new CancellationTokenSource(TestProvider.Guard);

        var held = client.GetAsync(url + "hold", guard.Token);
        await old.HoldingAtLeastAsync(1).WaitAsync(guard.Token);
        routes["web"] = replacement.EndPoint;
        provider.Client.SetRoutes(routes.Keys);
        // New requests meanwhile go to the replacement, on connections of their own.
        string during = await client.GetStringAsync(url, guard.Token);
        old.ReleaseHeld();
        var answer = await held;

        await Assert.That(answer.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(during).Contains(": new");
    }

    [Test]
    public async Task A_stopped_deployment_is_never_reached_through_a_kept_connection()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var routes = new Dictionary<string, IPEndPoint> { ["web"] = upstream.EndPoint, ["other"] = upstream.EndPoint };
        await using var provider = TestProvider.For(gateway, routes).Start();
        await provider.WaitReadyAsync();
        using var client = GatewayHttp.Client(gateway);
        string url = gateway.UrlFor(provider.Label("web"));
        await Assert.That((await client.GetAsync(url)).StatusCode).IsEqualTo(HttpStatusCode.OK);

        // The container keeps listening (as docker-proxy would accept): only the provider's route is gone.
        routes.Remove("web");
        // At once: the gateway may not have heard yet, so the kept connection is still in its pool.
        provider.Client.SetRoutes(routes.Keys);
        var after = await client.GetAsync(url);

        await Assert.That(after.StatusCode).IsNotEqualTo(HttpStatusCode.OK);
        await Assert.That(upstream.Requests).IsEqualTo(1);
    }

    [Test]
    public async Task The_pool_bound_per_deployment_holds_under_many_clients_while_another_deployment_is_served()
    {
        const int bound = 4;
        using var pki = TestPki.Create();
        await using var busy = await UpstreamServer.StartAsync("busy");
        await using var quiet = await UpstreamServer.StartAsync("quiet");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--upstream-connections", bound.ToString());
        await using var provider = TestProvider.For(gateway, new() { ["busy"] = busy.EndPoint, ["quiet"] = quiet.EndPoint }).Start();
        await provider.WaitReadyAsync();
        using var client = GatewayHttp.Client(gateway);
        using var guard = new CancellationTokenSource(TestProvider.Guard);

        var held = Enumerable.Range(0, 3 * bound)
            .Select(_ => client.GetAsync(gateway.UrlFor(provider.Label("busy")) + "hold", guard.Token))
            .ToList();
        await busy.HoldingAtLeastAsync(bound).WaitAsync(guard.Token);
        var other = await client.GetAsync(gateway.UrlFor(provider.Label("quiet")), guard.Token);
        int holdingWhileFull = busy.Holding;
        busy.ReleaseHeld();
        var responses = await Task.WhenAll(held);

        await Assert.That(other.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(holdingWhileFull).IsEqualTo(bound);
        await Assert.That(responses.All(r => r.StatusCode == HttpStatusCode.OK)).IsTrue();
        await Assert.That(busy.Connections.Count).IsLessThanOrEqualTo(bound);
    }

    [Test]
    public async Task A_connection_that_died_while_idle_does_not_fail_the_next_request()
    {
        using var pki = TestPki.Create();
        await using var upstream = await ClosingUpstream.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        using var client = GatewayHttp.Client(gateway);
        string url = gateway.UrlFor(provider.Label("web"));

        string first = await client.GetStringAsync(url);
        await upstream.ResetAllAsync();
        var second = await client.GetAsync(url);

        await Assert.That(first).IsEqualTo("connection 1");
        await Assert.That(second.StatusCode).IsEqualTo(HttpStatusCode.OK);
        await Assert.That(await second.Content.ReadAsStringAsync()).IsEqualTo("connection 2");
    }

    /// <summary>A keep-alive HTTP/1.1 server whose connections the test resets (RST) while they are idle.</summary>
    private sealed class ClosingUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private List<(Socket Socket, Task Served)> _connections = [];
        private readonly Lock _lock = new();
        private readonly CancellationTokenSource _stop = new();
        private Task _accepting = Task.CompletedTask;
        private int _count;

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public static Task<ClosingUpstream> StartAsync()
        {
            var server = new ClosingUpstream();
            server._listener.Start();
            server._accepting = server.AcceptAsync();
            return Task.FromResult(server);
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    int number = Interlocked.Increment(ref _count);
                    lock (_lock)
                        _connections.Add((socket, ServeAsync(socket, number)));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private static async Task ServeAsync(Socket socket, int number)
        {
            var buffer = new byte[8192];
            var seen = new StringBuilder();
            try
            {
                while (true)
                {
                    int read = await socket.ReceiveAsync(buffer);
                    if (read == 0)
                        return;
                    seen.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    while (seen.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal) is int end and >= 0)
                    {
                        seen.Remove(0, end + 4);
                        string body = $"connection {number}";
                        await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        /// <summary>Resets every connection accepted so far and waits until each is gone.</summary>
        public async Task ResetAllAsync()
        {
            List<(Socket Socket, Task Served)> connections;
            lock (_lock)
                (connections, _connections) = (_connections, []);
            foreach (var (socket, _) in connections)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            await Task.WhenAll(connections.Select(c => c.Served));
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            await ResetAllAsync();
            _stop.Dispose();
        }
    }
}

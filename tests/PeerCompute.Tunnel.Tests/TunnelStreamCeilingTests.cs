using System.Net;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>
/// One provider's tunnel carries many long requests at once (event streams, downloads, WebSockets): a popular event
/// stream does not make the provider's deployments answer 502, and requests beyond the tunnel's ceiling are refused
/// one by one (503) while the open ones go on.
/// </summary>
[ParallelLimiter<ProcessTestsLimit>]
public class TunnelStreamCeilingTests
{
    [Test]
    public async Task Three_hundred_viewers_of_an_event_stream_through_one_tunnel_all_get_their_events_and_another_request_is_served()
    {
        const int viewers = 300; // beyond the 256 streams a tunnel used to carry
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string url = gateway.UrlFor(provider.Label("web"));
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        // Each viewer is its own client (127.0.1.1 …), as real viewers are: no per-client limit is involved.
        var clients = Enumerable.Range(0, viewers).Select(i => GatewayHttp.Client(gateway, IPAddress.Parse($"127.0.{1 + i / 200}.{1 + i % 200}"))).ToArray();
        try
        {
            var watching = clients.Select(client => WatchAsync(client, url + "events", guard.Token)).ToArray();
            var firsts = await Task.WhenAll(watching.Select(w => w.First));
            using var ordinary = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.3.1"));
            using var page = await ordinary.GetAsync(url, guard.Token);
            upstream.SendEvent("second");
            var seconds = await Task.WhenAll(watching.Select(w => w.Second));

            await Assert.That(firsts.Count(e => e == "data: hello")).IsEqualTo(viewers);
            await Assert.That(page.StatusCode).IsEqualTo(HttpStatusCode.OK);
            await Assert.That(seconds.Count(e => e == "data: second")).IsEqualTo(viewers);
        }
        finally
        {
            foreach (var client in clients)
                client.Dispose();
        }
    }

    [Test]
    public async Task A_request_beyond_the_tunnels_stream_ceiling_gets_503_and_the_open_ones_carry_on()
    {
        const int ceiling = 16;
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--tunnel-max-streams", ceiling.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string url = gateway.UrlFor(provider.Label("web"));
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        var clients = Enumerable.Range(0, ceiling + 1).Select(i => GatewayHttp.Client(gateway, IPAddress.Parse($"127.0.4.{1 + i}"))).ToArray();
        try
        {
            var watching = clients.Take(ceiling).Select(client => WatchAsync(client, url + "events", guard.Token)).ToArray();
            await Task.WhenAll(watching.Select(w => w.First));
            using var oneMore = await clients[ceiling].GetAsync(url, guard.Token);
            upstream.SendEvent("still here");
            var seconds = await Task.WhenAll(watching.Select(w => w.Second));
            var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);

            await Assert.That(oneMore.StatusCode).IsEqualTo(HttpStatusCode.ServiceUnavailable);
            await Assert.That(oneMore.Headers.RetryAfter?.Delta).IsNotNull();
            await Assert.That(seconds.All(e => e == "data: still here")).IsTrue();
            await Assert.That(metrics.Body).Contains("peercompute_gateway_tunnel_busy_total 1\n");
        }
        finally
        {
            foreach (var client in clients)
                client.Dispose();
        }
    }

    /// <summary>One viewer: its first and second event lines (the response stays open until the test ends).</summary>
    private static (Task<string> First, Task<string> Second) WatchAsync(HttpClient client, string url, CancellationToken cancellationToken)
    {
        var first = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = Task.Run(async () =>
        {
            try
            {
                using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    first.TrySetResult($"status {(int)response.StatusCode}");
                    return "";
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                first.TrySetResult(await NextEventAsync(reader, cancellationToken));
                return await NextEventAsync(reader, cancellationToken);
            }
            catch (Exception e)
            {
                first.TrySetResult($"failed: {e.Message}");
                throw;
            }
        }, cancellationToken);
        return (first.Task, second);
    }

    private static async Task<string> NextEventAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
            if (line.Length > 0)
                return line;
        return "end of stream";
    }
}

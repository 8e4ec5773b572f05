using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>What flows through: WebSockets, big bodies both ways, the rate limit, metrics.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayTrafficTests
{
    [Test]
    [Arguments("1.1")]
    [Arguments("2.0")]
    public async Task A_websocket_echo_works_through_the_tunnel(string httpVersion)
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["chat"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        using var invoker = new HttpMessageInvoker(GatewayHttp.Handler(gateway));
        using var ws = new ClientWebSocket();
        ws.Options.HttpVersion = Version.Parse(httpVersion);
        ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var uri = new Uri(gateway.UrlFor(provider.Label("chat")).Replace("https://", "wss://") + "ws");
        using var guard = new CancellationTokenSource(TestProvider.Guard);

        await ws.ConnectAsync(uri, invoker, guard.Token);
        var replies = new List<string>();
        byte[] buffer = new byte[4096];
        foreach (string message in new[] { "one", "two", new string('x', 3000) })
        {
            await ws.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, guard.Token);
            var result = await ws.ReceiveAsync(buffer, guard.Token);
            replies.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", guard.Token);

        await Assert.That(replies).IsEquivalentTo(new[] { "echo: one", "echo: two", "echo: " + new string('x', 3000) });
        await Assert.That(ws.State).IsEqualTo(WebSocketState.Closed);
    }

    [Test]
    [Arguments("--http1.1")]
    [Arguments("--http2")]
    public async Task A_100_MiB_upload_and_download_stream_through_with_matching_hashes(string curlFlag)
    {
        const long size = 100L * 1024 * 1024;
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["files"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string uploadFile = Path.Combine(pki.Folder, "upload.bin");
        string downloadFile = Path.Combine(pki.Folder, "download.bin");
        await using (var file = File.Create(uploadFile))
        {
            byte[] chunk = new byte[1024 * 1024];
            for (long offset = 0; offset < size; offset += chunk.Length)
            {
                Pattern.Fill(chunk, offset);
                await file.WriteAsync(chunk);
            }
        }
        string expected = Pattern.Sha256Hex(size);

        var upload = await Curl.GetAsync(gateway, provider.Label("files"), "/upload", curlFlag, "--data-binary", "@" + uploadFile, "-H", "Content-Type: application/octet-stream");
        var download = await Curl.GetAsync(gateway, provider.Label("files"), $"/download?size={size}", curlFlag, "-o", downloadFile);
        string downloaded;
        await using (var file = File.OpenRead(downloadFile))
            downloaded = Convert.ToHexStringLower(await SHA256.HashDataAsync(file));

        await Assert.That(upload.Status).IsEqualTo(200);
        await Assert.That(upload.Body.Trim()).IsEqualTo($"{size} {expected}");
        await Assert.That(download.Status).IsEqualTo(200);
        await Assert.That(new FileInfo(downloadFile).Length).IsEqualTo(size);
        await Assert.That(downloaded).IsEqualTo(expected);
    }

    [Test]
    public async Task Three_hundred_requests_in_a_second_from_one_client_get_429_beyond_the_limit_and_other_clients_are_unaffected()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--rate-limit", "100");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string url = gateway.UrlFor(provider.Label("web"));
        using var abuser = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.2"), HttpVersion.Version20);
        using var neighbour = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.3"), HttpVersion.Version20);
        await abuser.GetAsync(url); // connection and TLS up before the clock starts
        await neighbour.GetAsync(url);
        using (var warmUp = GatewayHttp.Client(gateway, IPAddress.Parse("127.0.0.4"), HttpVersion.Version20))
            await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => warmUp.GetAsync(url)));

        var clock = Stopwatch.StartNew();
        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => abuser.GetAsync(url)));
        double elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"300 requests took {elapsed:0.000} s");
        var neighbourResponses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => neighbour.GetAsync(url)));

        int ok = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        int limited = responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        // Bucket of 100 (one taken by the warm-up), refilled at 100/s while the burst was sent.
        await Assert.That(ok + limited).IsEqualTo(300);
        await Assert.That(ok).IsGreaterThanOrEqualTo(99);
        await Assert.That(ok).IsLessThanOrEqualTo(100 + (int)Math.Ceiling(elapsed * 100) + 1);
        await Assert.That(limited).IsGreaterThan(0);
        await Assert.That(responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests).Headers.RetryAfter?.Delta).IsNotNull();
        await Assert.That(neighbourResponses.All(r => r.StatusCode == HttpStatusCode.OK)).IsTrue();
        var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);
        await Assert.That(metrics.Body).Contains($"peercompute_gateway_rate_limited_total {limited}\n");
    }

    [Test]
    public async Task Metrics_count_requests_by_status_bytes_and_tunnels_on_a_local_port()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();

        for (int i = 0; i < 3; i++)
            await Assert.That((await Curl.GetAsync(gateway, provider.Label("web"))).Status).IsEqualTo(200);
        await Assert.That((await Curl.GetAsync(gateway, provider.Label("nothing"))).Status).IsEqualTo(404);
        var metrics = await Curl.RunAsync([$"http://127.0.0.1:{gateway.MetricsPort}/metrics"]);

        await Assert.That(metrics.Status).IsEqualTo(200);
        await Assert.That(metrics.Body).Contains("peercompute_gateway_requests_total{code=\"200\"} 3\n");
        await Assert.That(metrics.Body).Contains("peercompute_gateway_requests_total{code=\"404\"} 1\n");
        await Assert.That(metrics.Body).Contains("peercompute_gateway_active_tunnels 1\n");
        // The three requests follow one another, so one kept-alive stream carries them all.
        await Assert.That(metrics.Body).Contains("peercompute_gateway_route_streams_total 1\n");
        await Assert.That(metrics.Body).DoesNotContain("peercompute_gateway_tunnel_bytes_received_total 0\n");
    }
}

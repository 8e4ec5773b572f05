using System.Net;
using System.Text.Json.Nodes;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>The gateway's status page on its metrics port: tunnels, deployments, last hour's requests and errors, certificate expiry.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayStatusPageTests
{
    [Test]
    public async Task The_status_page_shows_tunnels_deployments_traffic_and_the_certificate_in_a_real_browser()
    {
        if (!File.Exists(HeadlessChromium.Executable))
            throw new InvalidOperationException($"{HeadlessChromium.Executable} is missing: apt-get install -y chromium");
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync("status");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        // "broken" is announced, but nothing listens where it points: its requests are 502s.
        var nowhere = new IPEndPoint(IPAddress.Loopback, FreePorts.One());
        await using var provider = TestProvider.For(gateway, new() { ["site"] = upstream.EndPoint, ["broken"] = nowhere }).Start();
        await provider.WaitReadyAsync();
        using (var client = GatewayHttp.Client(gateway))
        {
            for (int i = 0; i < 3; i++)
                await Assert.That((await client.GetAsync(gateway.UrlFor(provider.Label("site")))).StatusCode).IsEqualTo(HttpStatusCode.OK);
            await Assert.That((await client.GetAsync(gateway.UrlFor(provider.Label("broken")))).StatusCode).IsEqualTo(HttpStatusCode.BadGateway);
            // Unknown names are not deployments: they never get a row.
            await Assert.That((await client.GetAsync(gateway.UrlFor("nothing-aaaaaaaaaaaa"))).StatusCode).IsEqualTo(HttpStatusCode.NotFound);
        }

        string page = $"http://127.0.0.1:{gateway.MetricsPort}/";
        using (var http = new HttpClient())
        {
            var response = await http.GetAsync(page);
            await Assert.That(response.Content.Headers.ContentType?.MediaType).IsEqualTo("text/html");
            string html = await response.Content.ReadAsStringAsync();
            await Assert.That(html).Contains($"{provider.Label("site")}.{gateway.Domain}");
            await Assert.That(html).Contains($"{provider.Label("broken")}.{gateway.Domain}");
            await Assert.That(html).DoesNotContain("nothing-aaaaaaaaaaaa");
            await Assert.That(html).Contains("4 requests, 1 errors (5xx)");
            await Assert.That(html).DoesNotContain("<script");
            // The metrics are still where they were.
            await Assert.That(await http.GetStringAsync(page + "metrics")).Contains("peercompute_gateway_active_tunnels 1");
        }

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var browser = await HeadlessChromium.StartAsync(guard.Token);
        await browser.NavigateAsync(page, guard.Token);
        await Assert.That(await browser.EvaluateAsync("document.getElementById('tunnel-count').textContent", guard.Token)).IsEqualTo("1");
        await Assert.That(await browser.EvaluateAsync("document.getElementById('deployment-count').textContent", guard.Token)).IsEqualTo("2");
        await Assert.That(await browser.EvaluateAsync("document.querySelectorAll('#deployments tr').length", guard.Token)).IsEqualTo("3");
        await Assert.That(await browser.EvaluateAsync("document.getElementById('certificate').textContent", guard.Token))
            .Matches(@"CN=\*\.[^,]+, issued by CN=Peer Compute Test CA: valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(expires in \d+ days\)");
        // The charts are drawn: bars for requests, and one for the errors among them.
        await Assert.That(int.Parse(await browser.EvaluateAsync("document.querySelectorAll('#deployments svg rect.req').length", guard.Token) ?? "0")).IsGreaterThanOrEqualTo(2);
        await Assert.That(await browser.EvaluateAsync("document.querySelectorAll('#deployments svg rect.err').length", guard.Token)).IsEqualTo("1");
        var shot = await browser.SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" }, guard.Token);
        byte[] png = Convert.FromBase64String(shot!["data"]!.GetValue<string>());
        // Kept beside the test report for a look.
        string file = Path.Combine(Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "TestResults")).FullName, "status-page.png");
        await File.WriteAllBytesAsync(file, png);
        await Assert.That(png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A })).IsTrue();
        await Assert.That(png.Length).IsGreaterThan(10_000).Because("a rendered page with tables and charts, not a blank image");
        Console.WriteLine($"status page screenshot: {file} ({png.Length} bytes)");
    }

    [Test]
    public async Task Traffic_is_counted_per_minute_for_an_hour_and_forgotten_after()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2026-12-07T10:00:30Z", System.Globalization.CultureInfo.InvariantCulture));
        var traffic = new DeploymentTraffic(clock);
        traffic.Record("web-tag", 200);
        traffic.Record("web-tag", 502);
        clock.Advance(TimeSpan.FromMinutes(1));
        traffic.Record("web-tag", 200);
        traffic.Record("api-tag", 404);

        var now = traffic.Snapshot();
        await Assert.That(now.Select(t => t.Label)).IsEquivalentTo(new[] { "api-tag", "web-tag" });
        var web = now.Single(t => t.Label == "web-tag");
        await Assert.That(web.Requests[^2]).IsEqualTo(2L);
        await Assert.That(web.Errors[^2]).IsEqualTo(1L);
        await Assert.That(web.Requests[^1]).IsEqualTo(1L);
        await Assert.That(web.TotalErrors).IsEqualTo(1L);
        await Assert.That(now.Single(t => t.Label == "api-tag").TotalErrors).IsEqualTo(0L).Because("only 5xx answers are errors");

        // 59 minutes on, the first minute has left the window; an hour after the last request the label is gone.
        clock.Advance(TimeSpan.FromMinutes(59));
        await Assert.That(traffic.Snapshot().Single(t => t.Label == "web-tag").TotalRequests).IsEqualTo(1L);
        // The slot of a minute an hour ago is reused, not added to.
        traffic.Record("web-tag", 200);
        await Assert.That(traffic.Snapshot().Single(t => t.Label == "web-tag").Requests[^1]).IsEqualTo(1L);
        clock.Advance(TimeSpan.FromMinutes(60));
        await Assert.That(traffic.Snapshot()).IsEmpty();
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

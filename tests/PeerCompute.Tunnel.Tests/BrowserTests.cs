using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>A real browser (Debian's chromium, headless) through the gateway: HTTP/2 and a same-origin WebSocket.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class BrowserTests
{
    [Test]
    public async Task Chromium_loads_the_page_over_http2_and_exchanges_a_websocket_message_with_its_origin()
    {
        if (!File.Exists(HeadlessChromium.Executable))
            throw new InvalidOperationException($"{HeadlessChromium.Executable} is missing: apt-get install -y chromium");
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync("browser");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["site"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var browser = await HeadlessChromium.StartAsync(guard.Token);
        // *.localhost resolves to loopback inside Chromium, so the public URL works as it is.
        string url = gateway.UrlFor(provider.Label("site"));

        await browser.NavigateAsync(url, guard.Token);
        string? heading = await browser.EvaluateAsync("document.getElementById('marker').textContent", guard.Token);
        string? protocol = await browser.EvaluateAsync("performance.getEntriesByType('navigation')[0].nextHopProtocol", guard.Token);
        await browser.NavigateAsync(url + "ws-page", guard.Token);
        string? websocket = await browser.EvaluateAsync("""
            new Promise(resolve => {
              const check = () => document.title === 'done' ? resolve(document.getElementById('state').textContent) : setTimeout(check, 20);
              check();
            })
            """, guard.Token);

        await Assert.That(heading).IsEqualTo(UpstreamServer.PageMarker + ": browser");
        await Assert.That(protocol).IsEqualTo("h2");
        await Assert.That(websocket).IsEqualTo("got: echo: ping from the browser");
    }
}

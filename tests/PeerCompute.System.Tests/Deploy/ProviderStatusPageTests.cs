using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>peercomputed --status-port: a local page with deployments, use against caps and refused requests, read by headless Chromium.</summary>
[NotInParallel("system")]
public class ProviderStatusPageTests
{
    [Test]
    public async Task The_status_page_shows_deployments_use_against_caps_and_refusals_in_a_browser()
    {
        int port = FreePorts.One();
        await using var cluster = await TrustedCluster.StartAsync("--status-port", $"{port}", "--max-cpu", "3000");
        var (_, user, daemon) = cluster;
        await Assert.That(daemon.Process.Output).Contains($"status page on http://127.0.0.1:{port}/");
        JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json"));
        var stranger = await cluster.AddStrangerAsync("stranger");
        await Assert.That((await stranger.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "intruder")).ExitCode).IsNotEqualTo(0);
        // More than is free (web holds 500m of 3000m), not more than the whole cap: refused by admission.
        await Assert.That((await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "big", "--cpu", "2900m")).ExitCode).IsNotEqualTo(0);

        string url = $"http://127.0.0.1:{port}/";
        using (var http = new HttpClient())
        {
            string html = await http.GetStringAsync(url);
            await Assert.That(html).Contains("<td>web</td>");
            await Assert.That(html).Contains(DeployWorkflowTests.TestImage);
            await Assert.That(html).Contains("class=\"ok\">running</td>");
            await Assert.That(html).Contains("id=\"cpu-cap\">3</td>").Because("the CPU cap, 3000 millicores");
            await Assert.That(html).Contains("<td>untrusted</td>");
            await Assert.That(html).Contains("<td>capacity_exceeded</td>");
            await Assert.That(html).DoesNotContain("<script");
            var missing = await http.GetAsync(url + "nothing");
            await Assert.That((int)missing.StatusCode).IsEqualTo(404);
        }

        // Only this machine: the listener is bound to 127.0.0.1.
        await Assert.That(await Listening(port)).IsEqualTo("127.0.0.1");

        string dir = Directory.CreateTempSubdirectory("pc-status-page-").FullName;
        try
        {
            string[] chromium = ["--headless", "--no-sandbox", "--disable-gpu", $"--user-data-dir={Path.Combine(dir, "profile")}"];
            var dom = await Chromium.RunAsync([.. chromium, "--dump-dom", url], TimeSpan.FromMinutes(2));
            await Assert.That(dom.ExitCode).IsEqualTo(0).Because(dom.ToString());
            await Assert.That(dom.StandardOutput).Contains("id=\"deployments\"");
            await Assert.That(dom.StandardOutput).Contains("<td>web</td>");
            await Assert.That(dom.StandardOutput).Contains("id=\"refusal-count\">2<");
            string png = Path.Combine(dir, "provider-status.png");
            var shot = await Chromium.RunAsync([.. chromium, "--window-size=1200,900", $"--screenshot={png}", url], TimeSpan.FromMinutes(2));
            await Assert.That(shot.ExitCode).IsEqualTo(0).Because(shot.ToString());
            await Assert.That(new FileInfo(png).Length).IsGreaterThan(10_000).Because("a rendered page, not a blank image");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The local address of the listening socket on <paramref name="port"/>, from ss.</summary>
    private static async Task<string> Listening(int port)
    {
        var ss = await TestProcess.RunAsync("ss", ["-Htln", $"sport = :{port}"]);
        string local = ss.StandardOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        return local[..local.LastIndexOf(':')];
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>
/// Updating a deployment with the published programs: peerctl → provider → containers, and the public URL through the
/// real gateway and tunnel under continuous load, with keep-alive and fresh connections.
/// </summary>
[NotInParallel("system")]
public class UpdateWorkflowTests
{
    /// <summary>A web server whose page says <paramref name="version"/>, after a line in its log.</summary>
    private static string[] Deploy(string version, params string[] extra) =>
    [
        "deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--cpu", "250m", "--memory", "64MB", "--json", .. extra,
        "--", "sh", "-c", $"echo starting {version}; mkdir -p /tmp/www && echo {version} > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
    ];

    [Test]
    public async Task An_update_under_load_through_the_gateway_fails_no_request_and_keeps_the_id_and_url_then_rollback_history_and_previous_logs()
    {
        // The load comes from one client address: the gateway's per-client rate limit would answer 429 to it.
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(launch => launch with { ExtraArgs = [.. launch.ExtraArgs, "--rate-limit", "1000000"] });
        var user = cluster.User;
        var gateway = cluster.Gateway;
        var first = JsonDocument.Parse(await user.CtlOkAsync(Deploy("v1"))).RootElement;
        var url = new Uri(first.GetProperty("publicUrl").GetString()!);

        using var gatewayCertificate = X509CertificateLoader.LoadCertificateFromFile(gateway.CertificateFile);
        using var keptAlive = Client(gateway, gatewayCertificate, keepAlive: true);
        using var fresh = Client(gateway, gatewayCertificate, keepAlive: false);
        await Eventually.WaitAsync(async () => (await TryGetAsync(keptAlive, url)) == "v1", "v1 at its public URL");

        using var stopLoad = new CancellationTokenSource();
        var answers = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<string>();
        async Task LoopAsync(HttpClient client)
        {
            while (!stopLoad.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(url);
                    string body = (await response.Content.ReadAsStringAsync()).Trim();
                    if (response.StatusCode == HttpStatusCode.OK)
                        answers.Enqueue(body);
                    else
                        failures.Enqueue($"{(int)response.StatusCode}: {body}");
                }
                catch (HttpRequestException ex)
                {
                    failures.Enqueue(ex.Message);
                }
            }
        }
        var load = new[] { LoopAsync(keptAlive), LoopAsync(keptAlive), LoopAsync(fresh), LoopAsync(fresh) };

        var second = JsonDocument.Parse(await user.CtlOkAsync(Deploy("v2"))).RootElement;
        await Eventually.WaitAsync(() => Task.FromResult(answers.Count(a => a == "v2") >= 50), "v2 answering under load");
        await stopLoad.CancelAsync();
        await Task.WhenAll(load);

        Console.WriteLine($"under load: {answers.Count} answers ({answers.Count(a => a == "v1")} v1, {answers.Count(a => a == "v2")} v2), {failures.Count} failed");
        await Assert.That(failures).IsEmpty().Because(string.Join("; ", failures.Take(5)));
        await Assert.That(answers).Contains("v1");
        await Assert.That(second.GetProperty("id").GetString()).IsEqualTo(first.GetProperty("id").GetString());
        await Assert.That(second.GetProperty("publicUrl").GetString()).IsEqualTo(url.ToString());
        await Assert.That(second.GetProperty("updated").GetBoolean()).IsTrue();
        await Assert.That(second.GetProperty("revision").GetInt32()).IsEqualTo(2);

        var previous = await user.CtlOkAsync("logs", "web", "--previous");
        await Assert.That(previous).Contains("starting v1");

        var rolledBack = JsonDocument.Parse(await user.CtlOkAsync("rollback", "web", "--json")).RootElement;
        await Assert.That(rolledBack.GetProperty("revision").GetInt32()).IsEqualTo(3);
        await Eventually.WaitAsync(async () => (await TryGetAsync(fresh, url)) == "v1", "v1 again after the rollback");

        var history = JsonDocument.Parse(await user.CtlOkAsync("history", "web", "--json")).RootElement.GetProperty("revisions").EnumerateArray()
            .Select(r => (r.GetProperty("revision").GetInt32(), r.GetProperty("result").GetString() ?? "")).ToList();
        await Assert.That(history).IsEquivalentTo([(1, "replaced"), (2, "rolled-back"), (3, "running")]);
        var table = await user.CtlOkAsync("history", "web");
        await Assert.That(table).Contains("REVISION");
        await Assert.That(table).Contains("sha256:");
    }

    [Test]
    public async Task A_failing_update_leaves_the_old_version_serving_and_peerctl_exits_non_zero_with_the_reason_and_last_lines()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        var gateway = cluster.Gateway;
        var first = JsonDocument.Parse(await user.CtlOkAsync(Deploy("v1"))).RootElement;
        var url = new Uri(first.GetProperty("publicUrl").GetString()!);
        using var gatewayCertificate = X509CertificateLoader.LoadCertificateFromFile(gateway.CertificateFile);
        using var client = Client(gateway, gatewayCertificate, keepAlive: true);
        await Eventually.WaitAsync(async () => (await TryGetAsync(client, url)) == "v1", "v1 at its public URL");

        var failed = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--cpu", "250m", "--memory", "64MB",
            "--", "sh", "-c", "echo cannot open the database; exit 3");

        await Assert.That(failed.ExitCode).IsNotEqualTo(0);
        await Assert.That(failed.StandardError).Contains("exited with code 3");
        await Assert.That(failed.StandardError).Contains("cannot open the database");
        await Assert.That(failed.StandardError).Contains("previous version keeps serving");
        await Assert.That(await TryGetAsync(client, url)).IsEqualTo("v1");
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").EnumerateArray().Single();
        await Assert.That(status.GetProperty("id").GetString()).IsEqualTo(first.GetProperty("id").GetString());
        await Assert.That(status.GetProperty("state").GetString()).IsEqualTo("running");
        // The failed container's output is kept after its removal.
        await Assert.That(await user.CtlOkAsync("logs", "web", "--previous")).Contains("cannot open the database");
        var history = await user.CtlOkAsync("history", "web");
        await Assert.That(history).Contains("failed");
    }

    private static async Task<string?> TryGetAsync(HttpClient client, Uri url)
    {
        try
        {
            using var response = await client.GetAsync(url);
            return response.StatusCode == HttpStatusCode.OK ? (await response.Content.ReadAsStringAsync()).Trim() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>A client of the gateway's HTTPS port that trusts its certificate; without keep-alive every request is a new connection.</summary>
    private static HttpClient Client(GatewayProcess gateway, X509Certificate2 certificate, bool keepAlive)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString() },
            PooledConnectionLifetime = keepAlive ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
        };
        var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        if (!keepAlive)
            client.DefaultRequestHeaders.ConnectionClose = true;
        return client;
    }
}

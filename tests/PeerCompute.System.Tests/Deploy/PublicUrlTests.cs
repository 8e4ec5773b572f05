using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>The whole chain: peerctl → provider → container, and the public HTTPS URL through the gateway's tunnel.</summary>
[NotInParallel("system")]
public class PublicUrlTests
{
    [Test]
    public async Task A_deployment_answers_at_its_public_https_url_through_the_gateway()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        var gateway = cluster.Gateway;

        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json")).RootElement;
        string publicUrl = deployed.GetProperty("publicUrl").GetString()!;
        await Assert.That(publicUrl).StartsWith("https://web-");
        await Assert.That(publicUrl).Contains($".peercompute.localhost:{gateway.HttpsPort}");

        // Real TLS verification against the gateway's certificate, TLS 1.3 only.
        var page = await TestProcess.RunAsync("curl", ["-sS", "-m", "20", "--tlsv1.3", "--cacert", gateway.CertificateFile, "--retry", "5", "--retry-all-errors", "--retry-delay", "1", publicUrl]);
        await Assert.That(page.ExitCode).IsEqualTo(0).Because(page.ToString());
        await Assert.That(page.StandardOutput).Contains("peercompute test page");

        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        await Assert.That(status.GetProperty("deployments").EnumerateArray().Single().GetProperty("publicUrl").GetString()).IsEqualTo(publicUrl);

        await user.CtlOkAsync("stop", "web");
        var gone = await TestProcess.RunAsync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "20", "--cacert", gateway.CertificateFile, publicUrl]);
        await Assert.That(gone.StandardOutput).IsNotEqualTo("200");
    }

    [Test]
    public async Task A_stopped_deployments_url_never_reaches_the_container_that_took_its_bridge_address()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        var gateway = cluster.Gateway;
        var a = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "alpha", "--port", "8080", "--json")).RootElement;
        var aUrl = new Uri(a.GetProperty("publicUrl").GetString()!);
        string aAddress = await BridgeAddressAsync("pc-" + a.GetProperty("id").GetString());

        // One client connection to the gateway, kept alive: the gateway keeps its tunnel connection to alpha's container.
        using var gatewayCertificate = X509CertificateLoader.LoadCertificateFromFile(gateway.CertificateFile);
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == gatewayCertificate.GetCertHashString() },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using (var first = await http.GetAsync(aUrl))
        {
            await Assert.That(first.StatusCode).IsEqualTo(HttpStatusCode.OK);
            await Assert.That(await first.Content.ReadAsStringAsync()).Contains("peercompute test page");
        }

        await user.CtlOkAsync("stop", "alpha");
        var b = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "bravo", "--port", "8080", "--json")).RootElement;
        string bAddress = await BridgeAddressAsync("pc-" + b.GetProperty("id").GetString());
        // Docker hands out the lowest free address; other containers on the machine can take it first, so this is only said.
        Console.WriteLine($"alpha had {aAddress}, bravo has {bAddress}");

        using var again = await http.GetAsync(aUrl);
        await Assert.That(again.StatusCode).IsNotEqualTo(HttpStatusCode.OK).Because(await again.Content.ReadAsStringAsync());
        await Assert.That(await again.Content.ReadAsStringAsync()).DoesNotContain("peercompute test page");
    }

    private static async Task<string> BridgeAddressAsync(string containerId)
    {
        var inspect = await TestProcess.RunAsync("docker", ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", containerId]);
        await Assert.That(inspect.ExitCode).IsEqualTo(0).Because(inspect.ToString());
        return inspect.StandardOutput.Trim();
    }
}

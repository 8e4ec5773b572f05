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
}

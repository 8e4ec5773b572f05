using System.Text.Json;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Access;

/// <summary>
/// Private and basic URLs with the real programs: peerctl deploys, peercomputed runs the container and announces the
/// rule, the gateway enforces it. The container runs busybox httpd -vv, which logs every request it gets, so its log
/// shows whether a refused request reached it.
/// </summary>
[NotInParallel("system")]
public class PrivateUrlTests
{
    private const string Password = "a long passphrase nobody guesses";

    private static readonly string[] LoggingServer = ["--", "httpd", "-f", "-vv", "-p", "8080", "-h", "/www"];

    [Test]
    public async Task A_private_deployment_opens_only_with_its_owners_link_and_then_by_cookie_in_curl_and_chromium()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        var gateway = cluster.Gateway;
        var deployed = JsonDocument.Parse(await user.CtlOkAsync(["deploy", DeployWorkflowTestsImage, "--name", "site", "--port", "8080", "--access", "private", "--json", .. LoggingServer])).RootElement;
        string publicUrl = deployed.GetProperty("publicUrl").GetString()!;
        var other = await cluster.AddUserAsync("other", "lee");
        await other.CtlOkAsync(["deploy", DeployWorkflowTestsImage, "--name", "elsewhere", "--port", "8080", "--access", "private", "--json"]);

        var bare = await CurlAsync(gateway, publicUrl);
        string link = (await user.CtlOkAsync("url", "site", "--expires", "2h")).Trim();
        string expired;
        using (var owner = IdentityStore.Load(new PeerCompute.Core.Storage.PeerComputeHome(user.Home)))
            expired = publicUrl + "?peercompute-token=" + UrlToken.Create(owner, new Uri(publicUrl).Host, DateTimeOffset.UtcNow.AddMinutes(-1));
        string othersLink = (await other.CtlOkAsync("url", "elsewhere", "--expires", "2h")).Trim();
        string tokenForOtherHost = othersLink[othersLink.IndexOf('?')..];
        var wrongHost = await CurlAsync(gateway, publicUrl + tokenForOtherHost);
        string forged = link[..^3] + (link[^3] == 'A' ? "B" : "A") + link[^2..];
        var badSignature = await CurlAsync(gateway, forged);
        var expiredResult = await CurlAsync(gateway, expired);
        string logBeforeTheLink = await ContainerLogAsync(user, "site");

        string jar = Path.Combine(user.Home, "cookies.txt");
        var first = await CurlAsync(gateway, link, "-c", jar);
        var byCookie = await CurlAsync(gateway, publicUrl, "-b", jar);
        string chromium = await ChromiumDomAsync(link, publicUrl);

        await Assert.That(bare.Status).IsEqualTo(401).Because(bare.Body);
        await Assert.That(wrongHost.Status).IsEqualTo(403).Because(wrongHost.Body);
        await Assert.That(badSignature.Status).IsEqualTo(403).Because(badSignature.Body);
        await Assert.That(expiredResult.Status).IsEqualTo(403).Because(expiredResult.Body);
        await Assert.That(logBeforeTheLink).DoesNotContain("url:");
        await Assert.That(link).StartsWith(publicUrl + "?peercompute-token=v1.");
        await Assert.That(first.Status).IsEqualTo(303).Because(first.Body);
        await Assert.That(File.ReadAllText(jar)).Contains("#HttpOnly_");
        await Assert.That(byCookie.Status).IsEqualTo(200).Because(byCookie.Body);
        await Assert.That(byCookie.Body).Contains("peercompute test page");
        await Assert.That(chromium).Contains("peercompute test page");
        await Assert.That(await ContainerLogAsync(user, "site")).Contains("url:/");
    }

    [Test]
    public async Task A_basic_deployment_stores_only_a_hash_and_refuses_a_wrong_password_before_the_container()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync();
        var user = cluster.User;
        var gateway = cluster.Gateway;
        var environment = new Dictionary<string, string?>(user.Environment) { ["PEERCTL_BASIC_PASSWORD"] = Password };
        var deploy = await TestProcess.RunAsync(PeerNode.Peerctl,
            ["deploy", DeployWorkflowTestsImage, "--name", "vault", "--port", "8080", "--access", "basic", "--basic-user", "maya", "--json", .. LoggingServer], environment, TimeSpan.FromMinutes(3));
        await Assert.That(deploy.ExitCode).IsEqualTo(0).Because(deploy.ToString());
        string publicUrl = JsonDocument.Parse(deploy.StandardOutput).RootElement.GetProperty("publicUrl").GetString()!;

        var none = await CurlAsync(gateway, publicUrl);
        var wrong = await CurlAsync(gateway, publicUrl, "-u", "maya:guess");
        var wrongUser = await CurlAsync(gateway, publicUrl, "-u", $"sam:{Password}");
        string logBefore = await ContainerLogAsync(user, "vault");
        var right = await CurlAsync(gateway, publicUrl, "-u", $"maya:{Password}");
        string stored = string.Join("\n", Directory.EnumerateFiles(cluster.Provider.Home, "*.json", SearchOption.AllDirectories)
            .Select(f => File.ReadAllText(f)));
        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "vault", "--json")).RootElement;
        string logAfter = await ContainerLogAsync(user, "vault");

        await Assert.That(none.Status).IsEqualTo(401).Because(none.Body);
        await Assert.That(wrong.Status).IsEqualTo(401).Because(wrong.Body);
        await Assert.That(wrongUser.Status).IsEqualTo(401).Because(wrongUser.Body);
        await Assert.That(logBefore).DoesNotContain("url:");
        await Assert.That(right.Status).IsEqualTo(200).Because(right.Body);
        await Assert.That(right.Body).Contains("peercompute test page");
        await Assert.That(logAfter).Contains("url:/");
        await Assert.That(stored).Contains("pbkdf2-sha256$");
        await Assert.That(stored).DoesNotContain(Password);
        await Assert.That(status.GetProperty("deployments")[0].GetProperty("access").GetString()).IsEqualTo("basic");
    }

    private const string DeployWorkflowTestsImage = Deploy.DeployWorkflowTests.TestImage;

    private sealed record Answer(int Status, string Body);

    /// <summary>Everything the container logged (busybox httpd -vv logs each request on stderr).</summary>
    private static async Task<string> ContainerLogAsync(PeerNode user, string deployment)
    {
        var logs = await user.CtlAsync("logs", deployment);
        if (logs.ExitCode != 0)
            throw new InvalidOperationException($"peerctl logs {deployment} failed: {logs}");
        return logs.StandardOutput + logs.StandardError;
    }

    /// <summary>One request with the real curl, checking the gateway's certificate.</summary>
    private static async Task<Answer> CurlAsync(GatewayProcess gateway, string url, params string[] extra)
    {
        var result = await TestProcess.RunAsync("curl", ["-sS", "-m", "20", "--cacert", gateway.CertificateFile, "-w", "\n%{http_code}", .. extra, url]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"curl {url} failed: {result}");
        string output = result.StandardOutput;
        int split = output.LastIndexOf('\n');
        return new Answer(int.Parse(output[(split + 1)..]), output[..split]);
    }

    /// <summary>
    /// Headless Chromium visits the link (which sets the cookie in its profile), then, in a new run on the same profile,
    /// the bare URL: its DOM is what the cookie alone opened.
    /// </summary>
    private static async Task<string> ChromiumDomAsync(string link, string bareUrl)
    {
        string profile = Directory.CreateTempSubdirectory("pc-chromium-").FullName;
        try
        {
            string[] common = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--ignore-certificate-errors", "--user-data-dir=" + profile, "--dump-dom"];
            var viaLink = await Chromium.RunAsync([.. common, link], TimeSpan.FromMinutes(1));
            if (!viaLink.StandardOutput.Contains("peercompute test page", StringComparison.Ordinal))
                throw new InvalidOperationException($"the link did not open the page in Chromium: {viaLink}");
            var viaCookie = await Chromium.RunAsync([.. common, bareUrl], TimeSpan.FromMinutes(1));
            return viaCookie.StandardOutput;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }
}

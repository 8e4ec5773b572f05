using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Volumes;

/// <summary>
/// Named volumes through the published peerctl and peercomputed: data kept across a redeploy and a provider restart,
/// volume ls and rm, another user's namespace, and the refusals, each with its stable code.
/// </summary>
[NotInParallel("system")]
public class VolumeWorkflowTests
{
    private static async Task<string> CurlAsync(string url)
    {
        var result = await TestProcess.RunAsync("curl", ["-sS", "-m", "10", url]);
        return result.ExitCode == 0 ? result.StandardOutput : $"curl failed: {result}";
    }

    private static string ErrorCode(ProcessResult result)
        => JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()!;

    [Test]
    public async Task A_volume_keeps_its_data_across_a_redeploy_and_a_provider_restart_until_its_owner_removes_it()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;

        // The page is written into the volume, and served from it.
        var first = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--memory", "64MB",
            "--volume", "site:/srv:32MB", "--json", "--", "sh", "-c", "echo kept-in-volume > /srv/index.html && exec httpd -f -p 8080 -h /srv")).RootElement;
        await Assert.That(await CurlAsync(first.GetProperty("localUrl").GetString()!)).Contains("kept-in-volume");

        var listed = JsonDocument.Parse(await user.CtlOkAsync("volume", "ls", "--json")).RootElement;
        var site = listed.GetProperty("volumes").EnumerateArray().Single();
        await Assert.That(site.GetProperty("name").GetString()).IsEqualTo("site");
        await Assert.That(site.GetProperty("sizeBytes").GetInt64()).IsEqualTo(32L << 20);
        await Assert.That(site.GetProperty("usedBy")[0].GetString()).IsEqualTo("web");
        await Assert.That(listed.GetProperty("maxStorageBytes").GetInt64()).IsEqualTo(10L << 30);
        await Assert.That(await user.CtlOkAsync("volume", "ls")).Contains("site");

        var inUse = await user.CtlAsync("volume", "rm", "site", "--json");
        await Assert.That(inUse.ExitCode).IsEqualTo(1);
        await Assert.That(ErrorCode(inUse)).IsEqualTo("volume_in_use");
        await Assert.That(inUse.StandardError).Contains("web");

        // Another user's "site" is not this one: they neither see nor remove it.
        var other = await cluster.AddUserAsync("other", "lee");
        await Assert.That(JsonDocument.Parse(await other.CtlOkAsync("volume", "ls", "--json")).RootElement.GetProperty("volumes").GetArrayLength()).IsEqualTo(0);
        var notTheirs = await other.CtlAsync("volume", "rm", "site", "--json");
        await Assert.That(ErrorCode(notTheirs)).IsEqualTo("not_found");

        // Stopped, the provider restarted, deployed again without writing: the page is still there.
        await user.CtlOkAsync("stop", "web");
        await daemon.RestartAsync();
        var second = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--memory", "64MB",
            "--volume", "site:/srv", "--json", "--", "httpd", "-f", "-p", "8080", "-h", "/srv")).RootElement;
        await Assert.That(await CurlAsync(second.GetProperty("localUrl").GetString()!)).Contains("kept-in-volume");

        await user.CtlOkAsync("stop", "web");
        await Assert.That(await user.CtlOkAsync("volume", "rm", "site")).Contains("Removed volume site");
        await Assert.That(JsonDocument.Parse(await user.CtlOkAsync("volume", "ls", "--json")).RootElement.GetProperty("volumes").GetArrayLength()).IsEqualTo(0);
        await Assert.That(LoopMounts.Under(provider.Home)).IsEmpty();
    }

    [Test]
    public async Task Host_paths_and_volumes_beyond_max_storage_are_refused_with_their_reason()
    {
        await using var cluster = await TrustedCluster.StartAsync("--max-storage", "64MB");
        var user = cluster.User;

        var hostPath = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080", "--volume", "/etc:/host-etc");
        await Assert.That(hostPath.ExitCode).IsEqualTo(2);
        await Assert.That(hostPath.StandardError).Contains("host paths are never mounted");

        var dotted = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080", "--volume", "..:/x", "--json");
        await Assert.That(dotted.ExitCode).IsEqualTo(2);

        var whole = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080", "--volume", "big:/data:128MB", "--json");
        await Assert.That(ErrorCode(whole)).IsEqualTo("invalid_request");
        await Assert.That(whole.StandardError).Contains("whole max-storage of 64 MiB");

        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "one", "--port", "8080", "--memory", "32MB", "--volume", "a:/data:48MB", "--", "httpd", "-f", "-p", "8080");
        var full = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "two", "--port", "8080", "--memory", "32MB", "--volume", "b:/data:32MB", "--json");
        await Assert.That(ErrorCode(full)).IsEqualTo("capacity_exceeded");
        await Assert.That(full.StandardError).Contains("max-storage: new volumes need 32 MiB, free 16 MiB of 64 MiB");
    }
}

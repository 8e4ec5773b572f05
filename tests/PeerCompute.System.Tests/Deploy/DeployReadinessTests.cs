using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>
/// What deploy says about a container's port, with the published binaries on a real dockerd: it waits until the
/// container itself answers (the engine's proxy on the published port always accepts), says plainly when it does not,
/// and takes the port the image declares when none is given.
/// </summary>
[NotInParallel("system")]
public class DeployReadinessTests
{
    [Test]
    public async Task A_container_that_listens_on_another_port_fails_the_deploy_but_keeps_running()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        // The test image's httpd listens on 8080.
        var result = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "wrongport", "--port", "80", "--json");
        await Assert.That(result.ExitCode).IsEqualTo(1).Because(result.ToString());
        var error = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("not_answering");
        await Assert.That(result.StandardError).Contains("running, but nothing answers on port 80 inside the container (it listens on 8080)");
        await Assert.That(result.StandardError).Contains("peerctl logs wrongport");
        await Assert.That(result.StandardError).Contains("peerctl stop wrongport");
        await Assert.That(result.StandardError).DoesNotContain("refused");

        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "wrongport", "--json")).RootElement;
        await Assert.That(status.GetProperty("deployments")[0].GetProperty("state").GetString()).IsEqualTo("running");
    }

    [Test]
    public async Task With_no_wait_the_same_deploy_answers_at_once_with_its_state()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        var result = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "nowait", "--port", "80", "--no-wait", "--json");
        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("state").GetString()).IsEqualTo("running");

        var human = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "nowait2", "--port", "80", "--no-wait");
        await Assert.That(human.ExitCode).IsEqualTo(0).Because(human.ToString());
        await Assert.That(human.StandardOutput).Contains("nowait2");
        await Assert.That(human.StandardOutput).Contains("running");
    }

    [Test]
    public async Task Without_port_the_image_s_one_exposed_port_serves()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        // The test image declares EXPOSE 8080 and nothing else.
        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "exposed", "--json")).RootElement;
        await Assert.That(await DeployWorkflowTests.CurlAsync(deployed.GetProperty("localUrl").GetString()!)).Contains("peercompute test page");
    }

    [Test]
    public async Task Without_port_an_image_exposing_two_is_refused_naming_both()
    {
        string image = $"peercompute-test/two-ports-{Guid.NewGuid():N}"[..40] + ":latest";
        var created = await TestProcess.RunAsync("docker", ["create", DeployWorkflowTests.TestImage]);
        await Assert.That(created.ExitCode).IsEqualTo(0).Because(created.ToString());
        string container = created.StandardOutput.Trim();
        try
        {
            var commit = await TestProcess.RunAsync("docker", ["commit", "--change", "EXPOSE 9090", container, image]);
            await Assert.That(commit.ExitCode).IsEqualTo(0).Because(commit.ToString());
            await using var cluster = await TrustedCluster.StartAsync();
            var (_, user, _) = cluster;

            var result = await user.CtlAsync("deploy", image, "--name", "twoports", "--json");
            await Assert.That(result.ExitCode).IsEqualTo(1).Because(result.ToString());
            var error = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error");
            await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("invalid_request");
            await Assert.That(result.StandardError).Contains("exposes several ports (8080, 9090): choose one with --port");

            var status = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
            await Assert.That(status.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        }
        finally
        {
            await TestProcess.RunAsync("docker", ["rm", "-f", container]);
            await TestProcess.RunAsync("docker", ["rmi", "-f", image]);
        }
    }
}

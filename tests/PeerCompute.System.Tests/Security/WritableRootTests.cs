using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// <c>peerctl deploy --writable</c> against a real peercomputed on the test machine's engine (overlay2 on ext4, which
/// cannot cap a writable layer): refused with <c>writable_unbounded</c> unless the operator allows unbounded roots,
/// and the provider's start-up log says what its engine can bound and whether it remaps user namespaces.
/// </summary>
[NotInParallel("system")]
public class WritableRootTests
{
    [Test]
    public async Task A_writable_deploy_on_an_engine_that_cannot_cap_it_is_refused_with_writable_unbounded()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, daemon) = cluster;
        string log = daemon.Process.Output;
        await Assert.That(log).Contains("storage: overlay2 on extfs cannot cap writable layers");
        await Assert.That(log).Contains("--writable deployments are refused (writable_unbounded)");
        await Assert.That(log).Contains("user namespaces: not remapped");

        var result = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "scratch", "--port", "8080", "--writable", "--json");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("deploy without --writable");
        await Assert.That(JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("writable_unbounded");

        // Read-only, the same deployment runs.
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "scratch", "--port", "8080", "--json");
    }

    [Test]
    public async Task The_operator_can_allow_unbounded_writable_roots_and_is_warned()
    {
        await using var cluster = await TrustedCluster.StartAsync("--allow-unbounded-writable");
        var (_, user, daemon) = cluster;
        await Assert.That(daemon.Process.Output).Contains("--allow-unbounded-writable: a --writable deployment can fill Docker's disk");

        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "scratch", "--port", "8080", "--writable", "--json")).RootElement;
        await Assert.That(deployed.GetProperty("state").GetString()).IsEqualTo("running");
    }
}

using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// User-namespace remapping is a daemon-wide dockerd setting (<c>--userns-remap</c>), so the provider does not set it:
/// it detects it at start and reports it. Here on a private dockerd that remaps (dockerd creates the <c>dockremap</c>
/// user and its /etc/subuid and /etc/subgid ranges itself), and on the shared engine, which does not.
/// </summary>
public sealed class UserNamespaceTests
{
    private const string Owner = "12D3KooWOwnerUserns";

    [Test]
    public async Task A_remapping_engine_is_detected_and_runs_the_confined_container_as_an_unprivileged_host_user()
    {
        await TestEngine.EnsureReadyAsync();
        await using var engine = await PrivateDockerd.StartAsync(new PrivateDockerdOptions
        {
            OwnBridge = true,
            Image = TestEngine.BusyboxImage,
            DaemonArguments = ["--userns-remap", "default"],
        });
        await using var harness = await RuntimeHarness.StartAsync(engine: engine);
        await Assert.That(harness.Runtime.Storage!.UserNamespaceRemap).IsTrue();

        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("remapped", RuntimeHarness.Shell("echo \"uid=$(id -u)\"; " + RuntimeHarness.ServeHttp)), Owner);
        await Assert.That(deployed.State).IsEqualTo(DeploymentState.Running);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);
        var (stdout, _) = await ContainerOutput.LogsAsync(harness.Runtime, deployed.Id, Owner);
        await Assert.That(ContainerOutput.Line(stdout, "uid")).IsEqualTo("0");
        // Root inside is the first subordinate uid outside: not root on the host.
        string pid = (await engine.DockerAsync("inspect", "--format", "{{.State.Pid}}", deployed.ContainerId!)).StandardOutput.Trim();
        string uidMap = await File.ReadAllTextAsync($"/proc/{pid}/uid_map");
        var fields = uidMap.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        await Assert.That(fields[0]).IsEqualTo("0");
        await Assert.That(long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture)).IsGreaterThan(0L);
    }

    [Test]
    public async Task The_shared_engine_does_not_remap_and_the_runtime_says_so()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        await Assert.That(harness.Runtime.Storage!.UserNamespaceRemap).IsFalse();
    }
}

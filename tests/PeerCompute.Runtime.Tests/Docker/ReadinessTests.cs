using System.Net;
using System.Net.Sockets;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Waiting for a deployment to serve, on a real engine: the probe asks the container's own address, because the
/// engine's proxy on the published loopback port accepts connections whether or not anything listens inside.
/// </summary>
public sealed class ReadinessTests
{
    private const string Owner = "12D3KooWOwnerReadiness";

    private static readonly ReadinessOptions Short = new() { Timeout = TimeSpan.FromSeconds(2) };

    [Test]
    public async Task A_container_listening_on_another_port_is_not_ready_though_its_published_port_accepts()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        // The image's httpd listens on 8080; the deployment says 80.
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("elsewhere") with { ContainerPort = 80 }, Owner);
        await Assert.That(deployed.ContainerAddress).IsNotNull();
        await Assert.That(deployed.ContainerPort).IsEqualTo(80);
        var listening = new IPEndPoint(deployed.ContainerAddress!, 8080);
        await Eventually.WaitAsync(() => TcpReadinessCheck.Instance.AnswersAsync(listening, CancellationToken.None).AsTask(), $"{listening} to accept", TimeSpan.FromSeconds(30));

        // What the old probe asked: the engine's proxy takes the connection although nothing inside listens on 80.
        using (var proxied = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            await proxied.ConnectAsync(IPAddress.Loopback, deployed.HostPort!.Value);

        var result = await harness.Runtime.WaitUntilReadyAsync(deployed, Short);
        await Assert.That(result.Outcome).IsEqualTo(ReadinessOutcome.NotAnswering);
        await Assert.That(result.Status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(result.Listening).IsEquivalentTo([8080]);
    }

    [Test]
    public async Task A_serving_container_is_ready_on_its_bridge_address()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("serving"), Owner);
        var result = await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions());
        await Assert.That(result.Outcome).IsEqualTo(ReadinessOutcome.Ready);
        await Assert.That(await Http.GetWhenReadyAsync(deployed.HostPort!.Value)).Contains("peercompute test page");
        var inspected = await Cli.DockerAsync("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", deployed.ContainerId!);
        await Assert.That(deployed.ContainerAddress!.ToString()).IsEqualTo(inspected.EnsureSuccess("docker inspect").Stdout.Trim());
    }

    [Test]
    public async Task A_container_that_exits_ends_the_wait_with_its_exit_and_last_lines()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartPolicy = ContainerRestartPolicy.No });
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("exits", RuntimeHarness.Shell("echo giving up; sleep 0.3; exit 3")), Owner);
        // A deadline far beyond the test's patience: only the exit can end this wait.
        var result = await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions { Timeout = TimeSpan.FromMinutes(10) });
        await Assert.That(result.Outcome).IsEqualTo(ReadinessOutcome.NotRunning);
        await Assert.That(result.Status.State).IsEqualTo(DeploymentState.Exited);
        await Assert.That(result.Status.ExitCode).IsEqualTo(3L);
        await Assert.That(result.Status.LastLogLines.Select(l => l.Text)).Contains("giving up");
    }

    [Test]
    public async Task A_crash_loop_behind_the_restart_policy_ends_the_wait_too()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("loops", RuntimeHarness.Shell("echo giving up; sleep 0.3; exit 3")), Owner);
        var result = await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions { Timeout = TimeSpan.FromMinutes(10) });
        await Assert.That(result.Outcome).IsEqualTo(ReadinessOutcome.NotRunning);
        await Assert.That(result.Status.LastLogLines.Select(l => l.Text)).Contains("giving up");
    }

    [Test]
    public async Task Without_a_port_the_image_s_one_exposed_port_is_used()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("exposed") with { ContainerPort = DeploymentSpec.PortFromImage }, Owner);
        await Assert.That(deployed.ContainerPort).IsEqualTo(8080);
        await Assert.That((await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions())).Outcome).IsEqualTo(ReadinessOutcome.Ready);
    }

    [Test]
    public async Task Without_a_port_an_image_exposing_several_is_refused_naming_them()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        await using var image = await LocalImage.CommitAsync("EXPOSE 9090");
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(
            RuntimeHarness.Busybox("several") with { Image = image.Name, ContainerPort = DeploymentSpec.PortFromImage }, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.InvalidSpec);
        await Assert.That(error.Message).Contains("exposes several ports (8080, 9090): choose one with --port");
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);
    }
}

/// <summary>The test image with changed settings (docker commit --change), removed again on dispose.</summary>
internal sealed class LocalImage : IAsyncDisposable
{
    private LocalImage(string name) => Name = name;

    public string Name { get; }

    public static async Task<LocalImage> CommitAsync(params string[] changes)
    {
        string name = $"peercompute-test/changed-{Guid.NewGuid():N}"[..40] + ":latest";
        string container = (await Cli.DockerAsync("create", TestEngine.BusyboxImage)).EnsureSuccess("docker create").Stdout.Trim();
        try
        {
            var commit = await Cli.DockerAsync(["commit", .. changes.SelectMany(c => new[] { "--change", c }), container, name]);
            commit.EnsureSuccess("docker commit");
        }
        finally
        {
            await Cli.DockerAsync("rm", "-f", container);
        }
        return new LocalImage(name);
    }

    public async ValueTask DisposeAsync() => await Cli.DockerAsync("rmi", "-f", Name);
}

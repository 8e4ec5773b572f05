using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Health checks and restarts on a real engine: the provider's HTTP check gates readiness and reports health, an
/// image's own HEALTHCHECK is read from the engine, and a crash loop is held back with a backoff that grows to its cap.
/// </summary>
public sealed class HealthAndRestartTests
{
    private const string Owner = "12D3KooWOwnerHealth";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Listens on 8080 and answers every request with 500.</summary>
    private static readonly IReadOnlyList<string> Answers500 = RuntimeHarness.Shell(
        "while true; do printf 'HTTP/1.0 500 Internal Server Error\\r\\nContent-Length: 0\\r\\n\\r\\n' | nc -l -p 8080 >/dev/null; done");

    private static HealthCheckSpec Http(string path) => new()
    {
        Kind = HealthCheckKind.Http,
        Path = path,
        Interval = TimeSpan.FromSeconds(1),
        Timeout = TimeSpan.FromSeconds(1),
        Retries = 2,
    };

    [Test]
    public async Task An_app_answering_500_on_its_health_path_is_not_ready_and_becomes_unhealthy()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("sick", Answers500) with { Health = Http("/health") }, Owner);

        var status = await UntilAsync(harness, deployed,
            s => s.Health?.State == HealthState.Unhealthy, "the deployment to be unhealthy");
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.Health!.Source).IsEqualTo("provider");
        await Assert.That(status.Health.LastFailure).IsEqualTo("GET /health answered 500 Internal Server Error");
        await Assert.That(status.Health.LastFailureAt).IsNotNull();

        // Once the server answers (above), readiness reports its answer; waited for before it, a loaded machine may not
        // have started the server within the readiness timeout, and the last failure would be the refused connection.
        var ready = await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions { Timeout = TimeSpan.FromSeconds(3) });
        await Assert.That(ready.Outcome).IsEqualTo(ReadinessOutcome.NotAnswering);
        await Assert.That(ready.CheckFailure).IsEqualTo("GET /health answered 500 Internal Server Error");
    }

    [Test]
    public async Task An_app_answering_200_on_its_health_path_is_ready_and_healthy()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        // The test image's httpd serves its page at /.
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("well") with { Health = Http("/") }, Owner);

        var ready = await harness.Runtime.WaitUntilReadyAsync(deployed, new ReadinessOptions());
        await Assert.That(ready.Outcome).IsEqualTo(ReadinessOutcome.Ready);
        var status = await UntilAsync(harness, deployed,
            s => s.Health?.State == HealthState.Healthy, "the deployment to be healthy");
        await Assert.That(status.Health!.LastFailure).IsNull();
        // The image's own HEALTHCHECK (none here) is turned off beside the provider's check.
        var test = await Cli.DockerAsync("inspect", "-f", "{{json .Config.Healthcheck.Test}}", deployed.ContainerId!);
        await Assert.That(test.EnsureSuccess("docker inspect").Stdout.Trim()).IsEqualTo("[\"NONE\"]");
    }

    [Test]
    [Arguments("true", HealthState.Healthy)]
    [Arguments("false", HealthState.Unhealthy)]
    public async Task An_image_s_own_healthcheck_is_reported(string command, HealthState expected)
    {
        string image = await ImageWithHealthcheckAsync(command);
        try
        {
            await using var harness = await RuntimeHarness.StartAsync();
            var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("imagecheck") with { Image = image }, Owner);
            var status = await UntilAsync(harness, deployed,
                s => s.Health?.State == expected, $"the image's check to say {expected}");
            await Assert.That(status.Health!.Source).IsEqualTo("image");
            if (expected == HealthState.Unhealthy)
                await Assert.That(status.Health.LastFailure).StartsWith("the image's HEALTHCHECK exited with 1");
        }
        finally
        {
            await Cli.DockerAsync("rmi", "-f", image);
        }
    }

    [Test]
    public async Task A_crash_loop_is_held_back_with_a_backoff_that_grows_to_the_cap()
    {
        // 1 s, then 2 s (the cap), 2 s, ...: holds long enough to be seen by polling the status on a busy machine.
        var cap = TimeSpan.FromSeconds(2);
        var log = new RecordingLogger();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartBackoffInitial = TimeSpan.FromSeconds(1), RestartBackoffMax = cap }, logger: log);
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("crashes", RuntimeHarness.Shell("echo crashing; exit 2")), Owner);

        // Each hold the status shows is (last exit, next attempt); their difference is the provider's backoff for that exit.
        var delays = new Dictionary<DateTimeOffset, TimeSpan>();
        DeploymentStatus last = deployed;
        await Eventually.WaitAsync(async () =>
        {
            last = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            if (last is { State: DeploymentState.Restarting, LastExitAt: { } exit, NextRestartAt: { } next })
                delays[exit] = next - exit;
            return delays.Values.Count(d => d == cap) >= 2;
        }, "two holds at the cap", Patience);

        string seen = string.Join(", ", delays.OrderBy(p => p.Key).Select(p => $"{p.Key:HH:mm:ss.fff}+{p.Value.TotalSeconds}s"));
        await Assert.That(delays.Values.All(d => d == TimeSpan.FromSeconds(1) || d == cap)).IsTrue().Because(seen);
        // Short holds can pass between two polls on a busy machine: the order of all of them is in the provider's log.
        var holds = log.Lines.Where(l => l.Contains("of a crash loop in", StringComparison.Ordinal)).Take(3).Select(l => l[(l.LastIndexOf(" in ", StringComparison.Ordinal) + 4)..]).ToList();
        await Assert.That(holds).IsEquivalentTo(["1 s", "2 s", "2 s"]);
        await Assert.That(last.LastExitCode).IsEqualTo(2L);
        await Assert.That(last.RestartCount).IsGreaterThanOrEqualTo(2L);
        await Assert.That(last.Restart).IsEqualTo(RestartMode.UnlessStopped);
        await Assert.That(last.LastLogLines.Select(l => l.Text)).Contains("crashing");
    }

    [Test]
    public async Task With_restart_no_an_exited_container_stays_exited()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("once", RuntimeHarness.Shell("exit 4")) with { Restart = RestartMode.No }, Owner);
        await AssertStaysExitedAsync(harness, deployed, 4);
    }

    [Test]
    public async Task With_restart_on_failure_an_exit_0_is_not_restarted()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("done", RuntimeHarness.Shell("exit 0")) with { Restart = RestartMode.OnFailure }, Owner);
        await AssertStaysExitedAsync(harness, deployed, 0);
    }

    [Test]
    public async Task With_restart_on_failure_a_failing_exit_is_restarted()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { RestartBackoffInitial = TimeSpan.FromMilliseconds(100), RestartBackoffMax = TimeSpan.FromMilliseconds(200) });
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("fails", RuntimeHarness.Shell("exit 5")) with { Restart = RestartMode.OnFailure }, Owner);
        // The engine's own policy may restart the container before the provider has the exit from the event stream (it
        // restarts within 100 ms): the restart count can run ahead of the recorded exit, so wait for both.
        var status = await UntilAsync(harness, deployed,
            s => s.RestartCount >= 2 && s.LastExitCode is not null, "two restarts and the exit recorded");
        await Assert.That(status.LastExitCode).IsEqualTo(5L);
    }

    /// <summary>
    /// The engine's own record is the truth here: it finished, was never restarted, and the policy it was given is the
    /// deployment's (so the engine, too, leaves it alone while the provider is down).
    /// </summary>
    private static async Task AssertStaysExitedAsync(RuntimeHarness harness, DeploymentStatus deployed, long code)
    {
        var status = await UntilAsync(harness, deployed,
            s => s is { State: DeploymentState.Exited, LastExitAt: not null }, "the container to have exited");
        await Assert.That(status.ExitCode).IsEqualTo(code);
        await Assert.That(status.LastExitCode).IsEqualTo(code);
        await Assert.That(status.NextRestartAt).IsNull();
        var inspect = (await Cli.DockerAsync("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}", deployed.ContainerId!)).EnsureSuccess("docker inspect").Stdout.Trim();
        await Assert.That(inspect).IsEqualTo($"exited 0 {(status.Restart == RestartMode.No ? "no" : "on-failure")}");
        await Assert.That((await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false)).RestartCount).IsEqualTo(0L);
    }

    private static Task<DeploymentStatus> UntilAsync(RuntimeHarness harness, DeploymentStatus deployed, Func<DeploymentStatus, bool> condition, string what)
        => Eventually.WaitAsync(async () =>
        {
            var status = await harness.Runtime.GetStatusAsync(deployed.Id, Owner, includeUsage: false);
            return condition(status) ? status : null;
        }, what, Patience);

    private static async Task<string> ImageWithHealthcheckAsync(string command)
    {
        string image = $"peercompute-test/healthcheck-{command}-{Guid.NewGuid():N}"[..48] + ":latest";
        var created = (await Cli.DockerAsync("create", TestEngine.BusyboxImage)).EnsureSuccess("docker create").Stdout.Trim();
        try
        {
            (await Cli.DockerAsync("commit", "--change", $"HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD [\"/bin/{command}\"]", created, image)).EnsureSuccess("docker commit");
        }
        finally
        {
            await Cli.DockerAsync("rm", "-f", created);
        }
        return image;
    }
}

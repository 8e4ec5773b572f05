using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>Health and restarts in the status (pure projection), and the refusals of bad health checks.</summary>
public sealed class HealthAndRestartStatusTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    private static DeploymentRecord Record(HealthCheckSpec? health = null) => new()
    {
        Id = "0123456789abcdef",
        Owner = "peer",
        Spec = new DeploymentSpec { Name = "web", Image = "app:1", ContainerPort = 8080, CpuMillicores = 100, MemoryBytes = 64 * RuntimeOptions.MiB, Health = health },
        SpecHash = "h",
        CreatedAt = Now.AddHours(-1),
        ContainerId = "c1",
        Phase = RecordPhase.Active,
    };

    [Test]
    public async Task A_held_container_is_restarting_with_its_next_attempt_last_exit_and_all_restarts()
    {
        var record = Record();
        record.HeldUntil = Now.AddSeconds(4);
        record.LastExitCode = 3;
        record.LastExitAt = Now.AddSeconds(-4);
        record.ProviderRestarts = 5;
        var stopped = new ContainerFacts { Id = "c1", Running = false, ExitCode = 137, StartedAt = Now.AddSeconds(-5), FinishedAt = Now.AddSeconds(-3), RestartCount = 2 };

        var status = StatusProjection.Project(record, stopped, Now);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Restarting);
        await Assert.That(status.NextRestartAt).IsEqualTo(Now.AddSeconds(4));
        // The exit the provider saw, not the engine's code of its own stop.
        await Assert.That(status.LastExitCode).IsEqualTo(3L);
        await Assert.That(status.LastExitAt).IsEqualTo(Now.AddSeconds(-4));
        await Assert.That(status.RestartCount).IsEqualTo(7L);
        await Assert.That(status.Restart).IsEqualTo(RestartMode.UnlessStopped);
    }

    [Test]
    public async Task The_provider_s_check_wins_over_the_image_s_and_neither_shows_once_exited()
    {
        var running = new ContainerFacts { Id = "c1", Running = true, StartedAt = Now.AddMinutes(-1), Health = new EngineHealth("unhealthy", Now, "the image's HEALTHCHECK exited with 1") };
        var mine = new HealthReport(HealthState.Healthy, "provider", null, null);

        await Assert.That(StatusProjection.Project(Record(), running, Now).Health).IsEqualTo(new HealthReport(HealthState.Unhealthy, "image", Now, "the image's HEALTHCHECK exited with 1"));
        await Assert.That(StatusProjection.Project(Record(), running, Now, mine).Health).IsEqualTo(mine);
        var exited = running with { Running = false, FinishedAt = Now };
        await Assert.That(StatusProjection.Project(Record(), exited, Now, mine).Health).IsNull();
    }

    [Test]
    [Arguments("health", "no-slash", "must start with '/'")]
    [Arguments("health", "/a b", "must start with '/'")]
    [Arguments("timeout", "", "is not within 0.1 s and the interval")]
    [Arguments("retries", "", "retries: 0 is not within 1-100")]
    [Arguments("interval", "", "interval: 0.5 s is not within 1 s to 1 h")]
    [Arguments("tcp-path", "", "a TCP check takes no path")]
    public async Task A_bad_health_check_is_refused_naming_the_field(string what, string path, string message)
    {
        var check = new HealthCheckSpec { Kind = HealthCheckKind.Http, Path = "/ok" };
        check = what switch
        {
            "health" => check with { Path = path },
            "timeout" => check with { Timeout = TimeSpan.FromSeconds(20) },
            "retries" => check with { Retries = 0 },
            "interval" => check with { Interval = TimeSpan.FromMilliseconds(500), Timeout = TimeSpan.FromMilliseconds(200) },
            _ => check with { Kind = HealthCheckKind.Tcp },
        };
        var spec = Record(check).Spec with { Image = "app:1" };
        var ex = Assert.Throws<RuntimeException>(() => DeploymentSpecValidator.Validate(spec, new RuntimeOptions()));
        await Assert.That(ex!.Code).IsEqualTo(RuntimeErrorCode.InvalidSpec);
        await Assert.That(ex.Message).Contains(message);
    }

    [Test]
    public async Task Restart_policy_and_health_change_the_spec_hash_only_when_set()
    {
        var plain = Record().Spec;
        string before = SpecHash.Compute(plain);
        await Assert.That(SpecHash.Compute(plain with { Restart = null, Health = null })).IsEqualTo(before);
        await Assert.That(SpecHash.Compute(plain with { Restart = RestartMode.No })).IsNotEqualTo(before);
        await Assert.That(SpecHash.Compute(plain with { Health = new HealthCheckSpec { Kind = HealthCheckKind.Tcp } })).IsNotEqualTo(before);
    }
}

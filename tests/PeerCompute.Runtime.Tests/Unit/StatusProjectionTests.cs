using System.Net;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>Record plus engine facts to status: pure, no engine and no clock.</summary>
public sealed class StatusProjectionTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    private static DeploymentRecord Record(RecordPhase phase, string? reason = null) => new()
    {
        Id = "0123456789abcdef",
        Owner = "peer",
        Spec = new DeploymentSpec { Name = "web", Image = "app:1", ContainerPort = 8080, CpuMillicores = 100, MemoryBytes = 64 * RuntimeOptions.MiB },
        SpecHash = "h",
        CreatedAt = Now.AddHours(-1),
        ContainerId = "c1",
        Phase = phase,
        Reason = reason,
    };

    private static ContainerFacts Running(long restarts = 0) => new()
    {
        Id = "c1",
        Running = true,
        StartedAt = Now.AddMinutes(-2),
        RestartCount = restarts,
        LoopbackPorts = new Dictionary<int, int> { [8080] = 41234, [9090] = 41235 },
    };

    [Test]
    public async Task A_running_container_has_its_port_uptime_and_no_exit_code()
    {
        var status = StatusProjection.Project(Record(RecordPhase.Active), Running(), Now);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(status.HostPort).IsEqualTo(41234);
        await Assert.That(status.Uptime).IsEqualTo(TimeSpan.FromMinutes(2));
        await Assert.That(status.ExitCode).IsNull();
        await Assert.That(StatusProjection.WantsLastLines(status, Running())).IsFalse();
        await Assert.That(StatusProjection.WantsLastLines(status, Running(restarts: 1))).IsTrue();
        await Assert.That(StatusProjection.UpstreamOf(status)).IsEqualTo(new IPEndPoint(IPAddress.Loopback, 41234));
    }

    [Test]
    public async Task An_exited_container_has_its_exit_code_and_no_port_or_route()
    {
        var exited = Running() with { Running = false, ExitCode = 3, OomKilled = true };
        var status = StatusProjection.Project(Record(RecordPhase.Active), exited, Now);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Exited);
        await Assert.That(status.ExitCode).IsEqualTo(3L);
        await Assert.That(status.OomKilled).IsTrue();
        await Assert.That(status.HostPort).IsNull();
        await Assert.That(status.Uptime).IsNull();
        await Assert.That(StatusProjection.WantsLastLines(status, exited)).IsTrue();
        await Assert.That(StatusProjection.UpstreamOf(status)).IsNull();
    }

    [Test]
    public async Task A_container_that_never_started_has_no_exit_code()
    {
        var created = new ContainerFacts { Id = "c1" };
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Active), created, Now).ExitCode).IsNull();
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Admitted), created, Now).State).IsEqualTo(DeploymentState.Pending);
    }

    [Test]
    public async Task Restarting_wins_over_running_and_the_engines_error_is_the_reason()
    {
        var status = StatusProjection.Project(Record(RecordPhase.Active), Running() with { Restarting = true, Error = "exec format error" }, Now);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Restarting);
        await Assert.That(status.Reason).IsEqualTo("exec format error");
        await Assert.That(status.HostPort).IsNull();
    }

    [Test]
    public async Task Without_a_container_an_admitted_record_is_pending_and_an_active_one_vanished()
    {
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Admitted), null, Now).State).IsEqualTo(DeploymentState.Pending);
        var gone = StatusProjection.Project(Record(RecordPhase.Active), null, Now);
        await Assert.That(gone.State).IsEqualTo(DeploymentState.Vanished);
        await Assert.That(gone.Reason).IsEqualTo(StatusProjection.DisappearedReason);
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Vanished, "why"), null, Now).Reason).IsEqualTo("why");
    }

    [Test]
    public async Task The_providers_phase_wins_over_what_the_container_does()
    {
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Stopped), Running(), Now).State).IsEqualTo(DeploymentState.Stopped);
        await Assert.That(StatusProjection.Project(Record(RecordPhase.Vanished), Running(), Now).State).IsEqualTo(DeploymentState.Vanished);
    }

    [Test]
    public async Task A_route_from_the_listing_needs_an_active_record_and_a_running_published_container()
    {
        var listed = new ContainerSummary { Id = "c1", State = ContainerState.Running, LoopbackPorts = new Dictionary<int, int> { [8080] = 41234 } };
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed)).IsEqualTo(new IPEndPoint(IPAddress.Loopback, 41234));
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Stopped), listed)).IsNull();
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed with { State = ContainerState.Restarting })).IsNull();
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed with { LoopbackPorts = new Dictionary<int, int>() })).IsNull();
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), null)).IsNull();
    }

    [Test]
    public async Task A_running_container_is_reached_through_its_published_port_never_its_reusable_bridge_address()
    {
        var bridge = IPAddress.Parse("172.18.0.5");
        var status = StatusProjection.Project(Record(RecordPhase.Active), Running() with { Address = bridge }, Now);
        await Assert.That(StatusProjection.UpstreamOf(status)!.Address).IsEqualTo(IPAddress.Loopback);
        var stopped = StatusProjection.Project(Record(RecordPhase.Stopped), Running() with { Address = bridge }, Now);
        await Assert.That(StatusProjection.UpstreamOf(stopped)).IsNull();
    }

    [Test]
    public async Task A_route_from_the_listing_is_the_published_port_whatever_the_bridge_address()
    {
        var bridge = IPAddress.Parse("172.18.0.5");
        var listed = new ContainerSummary { Id = "c1", State = ContainerState.Running, LoopbackPorts = new Dictionary<int, int> { [8080] = 41234 }, Address = bridge };
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed)).IsEqualTo(new IPEndPoint(IPAddress.Loopback, 41234));
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed with { Address = null })).IsEqualTo(new IPEndPoint(IPAddress.Loopback, 41234));
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Stopped), listed)).IsNull();
        await Assert.That(StatusProjection.UpstreamOf(Record(RecordPhase.Active), listed with { State = ContainerState.Exited })).IsNull();
    }
}

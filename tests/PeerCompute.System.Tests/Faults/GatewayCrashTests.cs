using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>kill -9 of the gateway under load: in-flight requests fail at once, none hangs, and requests succeed again once it is back and the provider's tunnel has reconnected.</summary>
[NotInParallel("system")]
public class GatewayCrashTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Gateway_killed_and_restarted_under_load()
    {
        await using var rig = await TunnelRig.StartAsync();
        await using var load = rig.Load(clients: 50, ClientTimeout);
        await load.FirstSuccessAfterAsync(TimeSpan.Zero, TimeSpan.FromSeconds(30));
        var steadyUntil = load.Elapsed + TimeSpan.FromSeconds(3);
        while (load.Elapsed < steadyUntil)
            await Task.Delay(100); // a few seconds of steady load before the crash: the figures need a "before"

        var killedAt = load.Elapsed;
        await rig.Gateway.KillAsync();
        var downFor = TimeSpan.FromSeconds(2);
        while (load.Elapsed < killedAt + downFor)
            await Task.Delay(100); // clients keep knocking on a closed port for a moment
        await rig.Gateway.RestartAsync();
        var restartedAt = load.Elapsed;
        await rig.Daemon.Process.WaitForLineAsync(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var reconnectedAt = load.Elapsed;
        var servingAt = await load.FirstSuccessAfterAsync(restartedAt, TimeSpan.FromSeconds(30));
        var until = load.Elapsed + TimeSpan.FromSeconds(3);
        while (load.Elapsed < until)
            await Task.Delay(100);
        await load.StopAsync();
        var end = load.Elapsed;

        var outcomes = load.Outcomes;
        var before = load.Phase("before kill", TimeSpan.Zero, killedAt);
        var down = load.Phase("gateway down", killedAt, restartedAt);
        var reconnect = load.Phase("until tunnel back", restartedAt, servingAt);
        var after = load.Phase("after reconnect", servingAt + TimeSpan.FromSeconds(1), end);
        foreach (var phase in new[] { before, down, reconnect, after })
            Console.WriteLine(phase);
        Console.WriteLine($"kill at {killedAt.TotalSeconds:0.0} s, restart at {restartedAt.TotalSeconds:0.0} s, tunnel connected at {reconnectedAt.TotalSeconds:0.0} s, first success at {servingAt.TotalSeconds:0.0} s");

        // Nothing hangs: every request ends, and none ran into the client's timeout.
        await Assert.That(outcomes.Count(o => o.Kind == Outcome.TimedOut)).IsEqualTo(0);
        // Requests in flight at the kill failed promptly (the connection dropped), not after a timeout.
        var inFlight = outcomes.Where(o => o.Start < killedAt && o.Start + o.Duration > killedAt).ToList();
        await Assert.That(inFlight.Where(o => o.Kind == Outcome.Ok && o.Start + o.Duration > killedAt + TimeSpan.FromSeconds(1)).Count()).IsEqualTo(0);
        await Assert.That(inFlight.Count == 0 || inFlight.Max(o => o.Start + o.Duration - killedAt) < TimeSpan.FromSeconds(5)).IsTrue();
        // While the tunnel comes back the deployment is "no provider connected" (503), never "no such deployment" (404).
        await Assert.That(outcomes.Count(o => o.Status == 404)).IsEqualTo(0);
        await Assert.That(before.Ok).IsGreaterThan(0);
        await Assert.That(down.Ok).IsEqualTo(0);
        await Assert.That(after.Ok).IsGreaterThan(0);
        await Assert.That(after.Ok).IsEqualTo(after.Requests).Because(after.ToString());
    }
}

using PeerCompute.Runtime.Restarts;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class RestartBackoffTests
{
    [Test]
    public async Task The_wait_doubles_from_the_first_and_stays_at_the_cap()
    {
        var waits = Enumerable.Range(1, 8).Select(n => RestartSupervisor.Backoff(n, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)).TotalSeconds).ToList();
        await Assert.That(waits).IsEquivalentTo([0.5, 1, 2, 4, 5, 5, 5, 5]);
    }

    [Test]
    public async Task A_long_streak_does_not_overflow_past_the_cap()
    {
        await Assert.That(RestartSupervisor.Backoff(10_000, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5))).IsEqualTo(TimeSpan.FromMinutes(5));
        await Assert.That(RestartSupervisor.Backoff(0, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5))).IsEqualTo(TimeSpan.FromSeconds(1));
    }
}

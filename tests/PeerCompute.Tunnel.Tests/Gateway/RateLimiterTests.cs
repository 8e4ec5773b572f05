using System.Diagnostics;
using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Tunnel.Tests;

public class RateLimiterTests
{
    /// <summary>A clock the test moves by hand, in Stopwatch ticks.</summary>
    private sealed class FakeClock
    {
        public long Now = 1_000_000;
        public void Advance(TimeSpan by) => Now += (long)(by.TotalSeconds * Stopwatch.Frequency);
    }

    [Test]
    public async Task A_full_bucket_allows_the_burst_then_refuses_with_the_wait_until_the_next_token()
    {
        var clock = new FakeClock();
        var limiter = new RateLimiter(new RateLimitOptions { RequestsPerSecond = 100 }, () => clock.Now);

        int allowed = Enumerable.Range(0, 300).Count(i => limiter.TryAcquire("10.0.0.1", "web-x", out _));
        bool refused = !limiter.TryAcquire("10.0.0.1", "web-x", out var retryAfter);

        await Assert.That(allowed).IsEqualTo(100);
        await Assert.That(refused).IsTrue();
        await Assert.That(retryAfter).IsEqualTo(TimeSpan.FromSeconds(0.01));
    }

    [Test]
    public async Task Tokens_come_back_at_the_configured_rate_up_to_the_burst()
    {
        var clock = new FakeClock();
        var limiter = new RateLimiter(new RateLimitOptions { RequestsPerSecond = 10, Burst = 20 }, () => clock.Now);
        while (limiter.TryAcquire("c", "h", out _))
        {
        }

        clock.Advance(TimeSpan.FromSeconds(0.5));
        int afterHalfSecond = 0;
        while (limiter.TryAcquire("c", "h", out _))
            afterHalfSecond++;
        clock.Advance(TimeSpan.FromSeconds(60));
        int afterAMinute = 0;
        while (limiter.TryAcquire("c", "h", out _))
            afterAMinute++;

        await Assert.That(afterHalfSecond).IsEqualTo(5);
        await Assert.That(afterAMinute).IsEqualTo(20);
    }

    [Test]
    public async Task Each_client_and_hostname_has_its_own_bucket()
    {
        var clock = new FakeClock();
        var limiter = new RateLimiter(new RateLimitOptions { RequestsPerSecond = 1 }, () => clock.Now);

        bool first = limiter.TryAcquire("a", "web", out _);
        bool again = limiter.TryAcquire("a", "web", out _);
        bool otherClient = limiter.TryAcquire("b", "web", out _);
        bool otherHost = limiter.TryAcquire("a", "api", out _);

        await Assert.That(first).IsTrue();
        await Assert.That(again).IsFalse();
        await Assert.That(otherClient).IsTrue();
        await Assert.That(otherHost).IsTrue();
    }

    [Test]
    public async Task The_table_is_bounded_and_idle_clients_are_forgotten()
    {
        var clock = new FakeClock();
        var limiter = new RateLimiter(new RateLimitOptions { RequestsPerSecond = 5, MaxTrackedClients = 3, IdleAfter = TimeSpan.FromSeconds(30) }, () => clock.Now);
        foreach (string client in new[] { "a", "b", "c" })
            limiter.TryAcquire(client, "web", out _);

        bool fourthWhileFull = limiter.TryAcquire("d", "web", out _);
        clock.Advance(TimeSpan.FromSeconds(31));
        bool fourthLater = limiter.TryAcquire("d", "web", out _);

        await Assert.That(fourthWhileFull).IsFalse();
        await Assert.That(fourthLater).IsTrue();
        await Assert.That(limiter.TrackedClients).IsLessThanOrEqualTo(3);
    }
}

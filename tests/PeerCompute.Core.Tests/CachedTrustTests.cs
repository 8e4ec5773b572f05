using PeerCompute.Core.Identity;
using PeerCompute.Core.Trust;

namespace PeerCompute.Core.Tests;

public class CachedTrustTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Ticks;
    }

    [Test]
    public async Task Many_questions_within_the_max_age_read_the_list_once_and_a_change_is_seen_after_it()
    {
        using var alice = PeerIdentity.Generate();
        using var bob = PeerIdentity.Generate();
        var clock = new ManualClock();
        var trusted = new List<string> { alice.PeerId.ToString() };
        int reads = 0;
        var cache = new CachedTrust(() => { reads++; return [.. trusted]; }, TimeSpan.FromSeconds(1), clock);

        bool aliceFirst = cache.IsTrusted(alice.PeerId);
        bool bobFirst = false;
        for (int i = 0; i < 1000; i++)
            bobFirst |= cache.IsTrusted(bob.PeerId);
        int readsWithin = reads;

        trusted.Add(bob.PeerId.ToString());
        trusted.Remove(alice.PeerId.ToString());
        bool bobStale = cache.IsTrusted(bob.PeerId);
        clock.Ticks += TimeSpan.FromSeconds(1).Ticks;
        bool bobAfter = cache.IsTrusted(bob.PeerId);
        bool aliceAfter = cache.IsTrusted(alice.PeerId);

        await Assert.That(aliceFirst).IsTrue();
        await Assert.That(bobFirst).IsFalse();
        await Assert.That(readsWithin).IsEqualTo(1);
        await Assert.That(bobStale).IsFalse();
        await Assert.That(bobAfter).IsTrue();
        await Assert.That(aliceAfter).IsFalse();
        await Assert.That(reads).IsEqualTo(2);
    }
}

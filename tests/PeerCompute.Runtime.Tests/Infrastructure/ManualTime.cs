namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>A clock the test moves by hand, starting at the real time.</summary>
internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// Exponential backoff with "equal jitter": attempt n waits a random time in [d/2, d] where d = initial·2ⁿ capped at
/// the maximum, so providers that lost the same gateway do not all come back in the same instant.
/// </summary>
internal sealed class ReconnectBackoff(TimeSpan initial, TimeSpan max, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;

    public int Attempt { get; private set; }

    /// <summary>The wait before the next attempt; advances the attempt count.</summary>
    public TimeSpan Next()
    {
        double factor = Math.Pow(2, Math.Min(Attempt, 30));
        double ceiling = Math.Min(initial.TotalMilliseconds * factor, max.TotalMilliseconds);
        Attempt++;
        return TimeSpan.FromMilliseconds(ceiling / 2 + _random.NextDouble() * ceiling / 2);
    }

    public void Reset() => Attempt = 0;
}

namespace PeerCompute.Runtime.Readiness;

/// <summary>How long and how often a deployment is probed before it counts as not answering.</summary>
public sealed record ReadinessOptions
{
    /// <summary>How long a deployment has to answer after its container started.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The first wait between attempts: small, since most servers listen within milliseconds of their start and the deploy's latency waits on it.</summary>
    public TimeSpan FirstInterval { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>The wait grows by this factor after each failed attempt (a refused connect costs microseconds; the overshoot past the moment the server listens is at most this fraction of the time waited).</summary>
    public double Backoff { get; init; } = 1.25;

    /// <summary>The wait grows up to this, so a slow starter is not hammered.</summary>
    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest single attempt (a connect to an address that drops packets waits for this).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often, at most, the engine is asked whether the container still runs while the probe waits.</summary>
    public TimeSpan StateInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}

using System.Text.Json.Serialization;

namespace PeerCompute.Runtime.Deployments;

[JsonConverter(typeof(JsonStringEnumConverter<HealthCheckKind>))]
public enum HealthCheckKind
{
    /// <summary>An HTTP GET of <see cref="HealthCheckSpec.Path"/> answers 2xx or 3xx.</summary>
    Http,
    /// <summary>A TCP connection to the deployment's port is accepted.</summary>
    Tcp,
}

/// <summary>
/// A health check the provider runs against the container's own address (bridge address and port), from outside the
/// container: it needs no tool inside the image, and it checks what the route reaches.
/// </summary>
public sealed record HealthCheckSpec
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);
    public const int DefaultRetries = 3;
    public static readonly TimeSpan DefaultStartPeriod = TimeSpan.Zero;

    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxStartPeriod = TimeSpan.FromHours(1);
    public const int MaxRetries = 100;
    public const int MaxPathLength = 1024;

    public required HealthCheckKind Kind { get; init; }
    /// <summary>For <see cref="HealthCheckKind.Http"/>: the path (and query) requested, starting with '/'.</summary>
    public string? Path { get; init; }
    /// <summary>Time between checks.</summary>
    public TimeSpan Interval { get; init; } = DefaultInterval;
    /// <summary>Longest one check may take; longer is a failure.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;
    /// <summary>Consecutive failures after which the deployment is unhealthy.</summary>
    public int Retries { get; init; } = DefaultRetries;
    /// <summary>After each start, failures in this period do not count (a success still makes it healthy).</summary>
    public TimeSpan StartPeriod { get; init; } = DefaultStartPeriod;
}

/// <summary>What the engine does when a deployment's process exits (<c>--restart</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RestartMode>))]
public enum RestartMode
{
    /// <summary>Restart on every exit and after an engine restart, until the owner stops it (the default).</summary>
    UnlessStopped,
    /// <summary>Restart only on a non-zero exit.</summary>
    OnFailure,
    /// <summary>Never restart.</summary>
    No,
}

public static class RestartModes
{
    /// <summary>The words of <c>--restart</c>: no, on-failure, unless-stopped.</summary>
    public static string Format(RestartMode mode) => mode switch
    {
        RestartMode.No => "no",
        RestartMode.OnFailure => "on-failure",
        _ => "unless-stopped",
    };

    public static bool TryParse(string? text, out RestartMode mode)
    {
        switch (text)
        {
            case "no": mode = RestartMode.No; return true;
            case "on-failure": mode = RestartMode.OnFailure; return true;
            case "unless-stopped": mode = RestartMode.UnlessStopped; return true;
            default: mode = default; return false;
        }
    }
}

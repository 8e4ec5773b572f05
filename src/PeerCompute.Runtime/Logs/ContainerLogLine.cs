namespace PeerCompute.Runtime.Logs;

public enum LogStream
{
    Stdout,
    Stderr,
}

/// <summary>One line a container wrote, without its newline.</summary>
public readonly record struct ContainerLogLine(LogStream Stream, DateTimeOffset Timestamp, string Text);

/// <summary>Which log lines to read.</summary>
public sealed record LogOptions
{
    /// <summary>Only the last N lines (per the engine's count); null for all.</summary>
    public int? Tail { get; init; }

    /// <summary>Only lines written at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Keep streaming new lines; the stream ends when the container stops.</summary>
    public bool Follow { get; init; }

    public bool Stdout { get; init; } = true;
    public bool Stderr { get; init; } = true;
}

using System.Net;

namespace PeerCompute.Runtime.Engine;

/// <summary>What the engine reports about one container when asked about it (inspect).</summary>
internal sealed record ContainerFacts
{
    public required string Id { get; init; }
    public bool Running { get; init; }
    /// <summary>The process exited and the engine is about to start it again.</summary>
    public bool Restarting { get; init; }
    /// <summary>Exit code of the last run (meaningful once it has started and is not running).</summary>
    public long ExitCode { get; init; }
    /// <summary>The last exit was the kernel's out-of-memory killer.</summary>
    public bool OomKilled { get; init; }
    /// <summary>The engine's own reason when it could not run the process; null or empty when none.</summary>
    public string? Error { get; init; }
    /// <summary>When the current (or last) run started; null when it never ran.</summary>
    public DateTimeOffset? StartedAt { get; init; }
    public long RestartCount { get; init; }
    /// <summary>Container TCP port → the port it is published on at 127.0.0.1.</summary>
    public IReadOnlyDictionary<int, int> LoopbackPorts { get; init; } = new Dictionary<int, int>();
    /// <summary>The container's address on its bridge network while it runs; null when it has none.</summary>
    public IPAddress? Address { get; init; }
    /// <summary>The host's PID of the container's first process while it runs; null otherwise.</summary>
    public int? Pid { get; init; }
    /// <summary>When the last run ended; null when it never ended.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>The image's own HEALTHCHECK as the engine runs it; null when the container has none.</summary>
    public EngineHealth? Health { get; init; }
}

/// <summary>The engine's health status of a container with a HEALTHCHECK: starting, healthy or unhealthy, and its last failed check.</summary>
internal sealed record EngineHealth(string Status, DateTimeOffset? LastFailureAt, string? LastFailure);

/// <summary>What the engine reports about an image it holds (inspect).</summary>
internal sealed record ImageFacts(long Size, IReadOnlyList<int> ExposedTcpPorts);

/// <summary>Where a container stands in the engine's listing.</summary>
internal enum ContainerState
{
    /// <summary>A state this runtime does not know by name.</summary>
    Unknown,
    /// <summary>Created and never started.</summary>
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// <summary>One container as the engine lists it: enough to match it to a record and to route to it.</summary>
internal sealed record ContainerSummary
{
    public required string Id { get; init; }
    public ContainerState State { get; init; }
    /// <summary>Null when the engine did not say.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    /// <summary>Container TCP port → the port it is published on at 127.0.0.1.</summary>
    public IReadOnlyDictionary<int, int> LoopbackPorts { get; init; } = new Dictionary<int, int>();
    /// <summary>The container's address on its bridge network while it runs; null when the engine did not say.</summary>
    public System.Net.IPAddress? Address { get; init; }

    public string? Label(string key) => Labels.TryGetValue(key, out string? value) ? value : null;
}

using System.Text.Json.Serialization;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Deployments;

namespace PeerCompute.Runtime.State;

/// <summary>Where a deployment stands from the provider's side (the container's own state is read live).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RecordPhase>))]
internal enum RecordPhase
{
    /// <summary>Admitted and written; the container may not exist yet (a crash here is found again on start).</summary>
    Admitted,
    /// <summary>The container was created and started; it holds capacity until stopped or gone.</summary>
    Active,
    /// <summary>Stopped by its owner; the container is kept for its logs, capacity is released.</summary>
    Stopped,
    /// <summary>The container disappeared under the runtime; the record stays so the owner learns of it.</summary>
    Vanished,
}

/// <summary>The provider's persisted truth about one deployment, one file each, written atomically.</summary>
internal sealed class DeploymentRecord
{
    public const int CurrentSchema = 1;

    public int Schema { get; set; } = CurrentSchema;
    public required string Id { get; init; }
    public required string Owner { get; init; }
    /// <summary>Settable only so a deploy can fill in the port it took from the image before the container is made.</summary>
    public required DeploymentSpec Spec { get; set; }
    public required string SpecHash { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string? ContainerId { get; set; }
    public RecordPhase Phase { get; set; }
    /// <summary>Why the record is in its phase when that is not obvious (vanished, interrupted deploy).</summary>
    public string? Reason { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Starts the provider made after holding a crash-looping container back (the engine counts its own restarts).</summary>
    public long ProviderRestarts { get; set; }
    /// <summary>While the provider holds a crash-looping container back: when it starts it again.</summary>
    public DateTimeOffset? HeldUntil { get; set; }
    /// <summary>Exits in a row, each after a short run: the backoff's exponent.</summary>
    public int CrashStreak { get; set; }
    /// <summary>When the provider last started a held container: exits reported with an earlier time belong to runs before it.</summary>
    public DateTimeOffset? LastStartAt { get; set; }
    public long? LastExitCode { get; set; }
    public DateTimeOffset? LastExitAt { get; set; }

    /// <summary>Which revision of the deployment the container runs: 1 for the first deploy, one more per update.</summary>
    public int Revision { get; set; } = 1;
    /// <summary>The revisions, oldest first, at most <see cref="RuntimeOptions.RevisionHistory"/>; empty in a record written before updates existed.</summary>
    public List<RevisionRecord> Revisions { get; set; } = [];
    /// <summary>The container of an update in flight; not an orphan while the record names it.</summary>
    public string? NextContainerId { get; set; }

    public bool HoldsCapacity => Phase is RecordPhase.Admitted or RecordPhase.Active;

    public string ContainerName => ContainerNaming.NameFor(Id, Revision);
}

/// <summary>How a revision ended up.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RevisionResult>))]
public enum RevisionResult
{
    /// <summary>It is the one that serves now.</summary>
    Running,
    /// <summary>An update replaced it.</summary>
    Replaced,
    /// <summary>Its container did not become ready (or exited) during the update; the one before kept serving.</summary>
    Failed,
    /// <summary>A rollback left it for an earlier revision's spec.</summary>
    RolledBack,
}

/// <summary>One revision of a deployment: the spec it ran (kept so a rollback can return to it), and how it ended.</summary>
internal sealed class RevisionRecord
{
    public required int Number { get; init; }
    public required DeploymentSpec Spec { get; init; }
    /// <summary>The image the engine ran (its content digest, <c>sha256:...</c>).</summary>
    public string? ImageDigest { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public RevisionResult Result { get; set; }
    /// <summary>Why it failed, when it did.</summary>
    public string? Reason { get; set; }
    /// <summary>The revision whose spec a rollback returned to.</summary>
    public int? RollbackOf { get; init; }
}

// RespectNullableAnnotations: a record with "spec": null (or any required field null) is unreadable, not a record
// that fails later when the runtime restores its capacity.
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(DeploymentRecord))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;

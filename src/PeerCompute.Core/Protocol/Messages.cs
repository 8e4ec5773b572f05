using System.Text.Json.Serialization;

namespace PeerCompute.Core.Protocol;

// The application protocol /peercompute/1.0.0: one request per yamux stream, each message a frame
// (see FrameCodec). Requests carry a timestamp and a nonce and are followed by a RequestSignature frame.

/// <summary>Fields every request carries so its signature cannot be replayed.</summary>
public interface ISignedRequest
{
    /// <summary>Unix time in milliseconds when the request was made.</summary>
    long Timestamp { get; }

    /// <summary>16 random bytes, base64; the provider refuses a nonce it has seen.</summary>
    string Nonce { get; }
}

/// <summary>A message with a rule the JSON contract cannot state (RespectNullableAnnotations does not reach list elements).</summary>
internal interface ICheckedMessage
{
    /// <summary>Why the message is malformed, or null.</summary>
    string? Problem { get; }
}

public sealed record RegistryCredentials(string Username, string Password, string? ServerAddress = null);

public sealed record DeployRequest(
    string Image,
    long Timestamp,
    string Nonce,
    string? Name = null,
    int CpuMillicores = DeployRequest.DefaultCpuMillicores,
    long MemoryBytes = DeployRequest.DefaultMemoryBytes,
    int? Port = null,
    IReadOnlyDictionary<string, string>? Env = null,
    IReadOnlyList<string>? Command = null,
    bool WritableRootfs = false,
    RegistryCredentials? Registry = null,
    bool NoWait = false,
    string? HealthHttp = null,
    bool HealthTcp = false,
    long? HealthIntervalMs = null,
    long? HealthTimeoutMs = null,
    int? HealthRetries = null,
    long? HealthStartPeriodMs = null,
    string? Restart = null,
    IReadOnlyList<string>? Volumes = null,
    string? Strategy = null,
    bool Rollback = false,
    string? Access = null,
    string? BasicUser = null,
    string? BasicPasswordHash = null,
    string? App = null,
    string? Service = null,
    bool Private = false,
    IReadOnlyList<string>? Domains = null) : ISignedRequest
{
    // A deploy under a name the caller already has on the provider is an update of that deployment (same id and URL):
    // Strategy is how ("rolling", the default, or "recreate"). Rollback: update Name back to its previous revision's
    // spec; Image and the resources are then ignored.
    public const string StrategyRolling = "rolling";
    public const string StrategyRecreate = "recreate";

    public const int DefaultCpuMillicores = 500;
    public const long DefaultMemoryBytes = 256L * 1024 * 1024;
}

/// <summary>Image pull progress, streamed before the DeployResponse.</summary>
public sealed record DeployProgress(string Status, string? Layer = null, long? Current = null, long? Total = null);

public sealed record DeployResponse(
    string Id,
    string Name,
    string Provider,
    string State,
    string? LocalUrl = null,
    string? PublicUrl = null,
    int CpuMillicores = 0,
    long MemoryBytes = 0,
    int? Revision = null,
    bool Updated = false);

public sealed record StopRequest(string Deployment, long Timestamp, string Nonce) : ISignedRequest;

public sealed record StopResponse(string Id, string Name, string State);

/// <param name="History">With <see cref="Deployment"/>: fill in its <see cref="DeploymentInfo.Revisions"/>.</param>
public sealed record StatusRequest(long Timestamp, string Nonce, string? Deployment = null, bool History = false) : ISignedRequest;

/// <summary>One revision of a deployment; <see cref="Result"/> is running, replaced, failed or rolled-back.</summary>
public sealed record RevisionInfo(int Revision, string Image, string? ImageDigest, DateTimeOffset Time, string Result, string? Reason = null, int? RollbackOf = null);

public sealed record DeploymentInfo(
    string Id,
    string Name,
    string Image,
    string State,
    int CpuMillicores,
    long MemoryBytes,
    DateTimeOffset CreatedAt,
    string? LocalUrl = null,
    string? PublicUrl = null,
    int? ExitCode = null,
    bool OomKilled = false,
    int Restarts = 0,
    double? CpuPercent = null,
    long? MemoryUsageBytes = null,
    IReadOnlyList<string>? LastLogLines = null,
    string? Restart = null,
    string? Health = null,
    string? HealthSource = null,
    DateTimeOffset? HealthFailedAt = null,
    string? HealthFailure = null,
    int? LastExitCode = null,
    DateTimeOffset? LastExitAt = null,
    DateTimeOffset? NextRestartAt = null,
    int? Revision = null,
    IReadOnlyList<RevisionInfo>? Revisions = null,
    string? Access = null,
    string? App = null,
    string? Service = null,
    IReadOnlyList<DomainInfo>? Domains = null);

/// <summary>
/// Where one custom domain of a deployment stands at one gateway. <see cref="State"/>: <c>waiting_for_dns</c>,
/// <c>verified</c> (its certificate is being obtained), <c>serving</c>, <c>failed</c> (tried again at <see cref="NextAttempt"/>),
/// <c>held_by_another</c>, <c>not_claimed</c>, or <c>unknown</c> when the gateway cannot be asked (not connected, or too old).
/// </summary>
public sealed record DomainInfo(string Name, string State, string Detail, string? Gateway = null, DateTimeOffset? CertificateExpires = null, DateTimeOffset? NextAttempt = null);

public sealed record CapacityInfo(
    int MaxCpuMillicores,
    long MaxMemoryBytes,
    int MaxDeploys,
    int UsedCpuMillicores,
    long UsedMemoryBytes,
    int Deploys,
    long MaxStorageBytes = 0,
    long UsedStorageBytes = 0)
{
    public int FreeCpuMillicores => MaxCpuMillicores - UsedCpuMillicores;
    public long FreeMemoryBytes => MaxMemoryBytes - UsedMemoryBytes;
    public int FreeDeploys => MaxDeploys - Deploys;
    public long FreeStorageBytes => MaxStorageBytes - UsedStorageBytes;
}

public sealed record StatusResponse(string Provider, IReadOnlyList<DeploymentInfo> Deployments, CapacityInfo? Capacity = null) : ICheckedMessage
{
    string? ICheckedMessage.Problem => Deployments.Contains(null!) ? "a deployment is null"
        : Deployments.Any(d => d.Revisions?.Contains(null!) == true) ? "a revision is null" : null;
}

/// <param name="Previous">The kept log of the deployment's previous container (replaced by an update, or a failed update's) instead of the running one's.</param>
public sealed record LogsRequest(string Deployment, long Timestamp, string Nonce, int? Tail = null, bool Follow = false, DateTimeOffset? Since = null, bool Previous = false) : ISignedRequest;

public sealed record LogEntry(string Stream, DateTimeOffset Time, string Text);

/// <summary>The caller's volumes on a provider: <see cref="List"/> them, or <see cref="Remove"/> one (<see cref="Name"/>).</summary>
public sealed record VolumeRequest(string Action, long Timestamp, string Nonce, string? Name = null) : ISignedRequest
{
    public const string List = "list";
    public const string Remove = "remove";
}

/// <summary>
/// A deployment's custom domains (<see cref="Deployment"/>: its name or id): <see cref="Add"/> or <see cref="Remove"/>
/// <see cref="Domain"/>, or <see cref="List"/> them with where each stands at every gateway.
/// </summary>
public sealed record DomainRequest(string Action, long Timestamp, string Nonce, string Deployment, string? Domain = null) : ISignedRequest
{
    public const string Add = "add";
    public const string Remove = "remove";
    public const string List = "list";
}

/// <param name="UsedBytes">Bytes in use on the volume's filesystem; null when the provider cannot tell (not mounted).</param>
/// <param name="UsedBy">Names of the deployments that mount it now.</param>
public sealed record VolumeSummary(string Name, long SizeBytes, long? UsedBytes, IReadOnlyList<string> UsedBy, DateTimeOffset CreatedAt);

/// <summary>The caller's volumes (after the removal, for <see cref="VolumeRequest.Remove"/>) and the provider's storage.</summary>
public sealed record VolumeResponse(string Provider, IReadOnlyList<VolumeSummary> Volumes, long MaxStorageBytes, long UsedStorageBytes) : ICheckedMessage
{
    string? ICheckedMessage.Problem => Volumes.Contains(null!) ? "a volume is null" : null;
}

/// <summary>A refusal or failure. <see cref="Code"/> is stable for scripts; <see cref="Message"/> is for people.</summary>
public sealed record ErrorResponse(string Code, string Message);

/// <summary>Sent right after a request frame: the signer's Ed25519 signature over that frame (see RequestSignature).</summary>
public sealed record RequestSignature(string Signer, string Signature);

/// <summary>Stable error codes carried by <see cref="ErrorResponse.Code"/>.</summary>
public static class ErrorCodes
{
    public const string MalformedFrame = "malformed_frame";
    public const string FrameTooLarge = "frame_too_large";
    public const string UnknownType = "unknown_type";
    public const string UnexpectedType = "unexpected_type";
    public const string Unsigned = "unsigned";
    public const string BadSignature = "bad_signature";
    public const string SignerMismatch = "signer_mismatch";
    public const string Untrusted = "untrusted";
    public const string StaleRequest = "stale_request";
    public const string Replay = "replay";
    public const string NotFound = "not_found";
    public const string CapacityExceeded = "capacity_exceeded";
    public const string NameTaken = "name_taken";
    public const string InvalidRequest = "invalid_request";
    public const string ImageNotFound = "image_not_found";
    public const string PullFailed = "pull_failed";
    public const string ImageAccessDenied = "image_access_denied";
    public const string RegistryBlocked = "registry_blocked";
    public const string RuntimeUnavailable = "runtime_unavailable";
    public const string WritableUnbounded = "writable_unbounded";
    public const string ImageTooLarge = "image_too_large";
    /// <summary>A volume cannot be removed while a deployment mounts it.</summary>
    public const string VolumeInUse = "volume_in_use";
    /// <summary>The provider cannot make volumes (no loop devices); the message says why.</summary>
    public const string VolumesUnavailable = "volumes_unavailable";
    /// <summary>The deployment runs (and stays), but nothing answered on its port before the provider's deadline.</summary>
    public const string NotAnswering = "not_answering";
    public const string Internal = "internal";
    /// <summary>An update's new container did not become ready (or exited): it was removed and the previous version keeps serving.</summary>
    public const string UpdateFailed = "update_failed";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(DeployRequest))]
[JsonSerializable(typeof(DeployProgress))]
[JsonSerializable(typeof(DeployResponse))]
[JsonSerializable(typeof(StopRequest))]
[JsonSerializable(typeof(StopResponse))]
[JsonSerializable(typeof(StatusRequest))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(LogsRequest))]
[JsonSerializable(typeof(LogEntry))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(RequestSignature))]
[JsonSerializable(typeof(VolumeRequest))]
[JsonSerializable(typeof(VolumeResponse))]
[JsonSerializable(typeof(DomainRequest))]
public sealed partial class ProtocolJsonContext : JsonSerializerContext;

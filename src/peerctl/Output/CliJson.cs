using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Protocol;
using PeerCompute.Cli;
using PeerCompute.Core.Trust;

namespace PeerCompute.Ctl.Output;

/// <summary>Shapes printed by <c>--json</c>. Field names are a stable interface for scripts: only add, never rename.</summary>
internal sealed record IdOutput(string PeerId, string Home);

internal sealed record PeersOutput(IReadOnlyList<TrustedPeer> Peers);

/// <param name="Via">How peerctl reached the provider: direct or relay.</param>
/// <param name="Revision">The revision the deployment runs now (an update or rollback made it).</param>
/// <param name="Updated">True when the deploy updated an existing deployment of that name (same id and URLs).</param>
internal sealed record DeployOutput(string Id, string Name, string Provider, string ProviderName, string State, string? LocalUrl, string? PublicUrl, int CpuMillicores, long MemoryBytes,
    string Via, int? Revision = null, bool Updated = false);

/// <summary><c>peerctl history --json</c>: the deployment and its revisions, oldest first.</summary>
internal sealed record HistoryOutput(string Id, string Name, string Provider, string ProviderName, IReadOnlyList<RevisionInfo> Revisions, string Via);

internal sealed record UrlOutput(string Name, string Url, DateTimeOffset Expires);

internal sealed record StatusOutput(string Provider, string ProviderName, IReadOnlyList<DeploymentInfo> Deployments, CapacityInfo? Capacity, string Via);

/// <summary>
/// One provider of <c>peerctl status --json</c> without --peer when several are trusted: the single-provider shape, or
/// provider, providerName and error when it could not be asked.
/// </summary>
internal sealed record ProviderStatusOutput(string Provider, string ProviderName, IReadOnlyList<DeploymentInfo>? Deployments, CapacityInfo? Capacity, string? Via, CliError? Error);

internal sealed record AllStatusOutput(IReadOnlyList<ProviderStatusOutput> Providers);

internal sealed record StopOutput(string Id, string Name, string State, string Via);

/// <summary><c>peerctl volume ls --json</c> and <c>volume rm --json</c> (the volumes left).</summary>
internal sealed record DomainsOutput(string Provider, string ProviderName, string Deployment, string? PublicUrl, IReadOnlyList<DomainInfo> Domains, string Via);

internal sealed record VolumesOutput(string Provider, string ProviderName, IReadOnlyList<VolumeSummary> Volumes, long MaxStorageBytes, long UsedStorageBytes, string Via);
/// <summary><c>peerctl up --json</c>: the app and its services as deployed, in start order; <c>down --json</c>: the services removed.</summary>
internal sealed record AppOutput(string App, string Provider, string ProviderName, IReadOnlyList<DeployOutput> Services, string Via);

internal sealed record AppDownOutput(string App, IReadOnlyList<StopOutput> Removed, string Via);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IdOutput))]
[JsonSerializable(typeof(PeersOutput))]
[JsonSerializable(typeof(TrustedPeer))]
[JsonSerializable(typeof(DeployOutput))]
[JsonSerializable(typeof(StatusOutput))]
[JsonSerializable(typeof(UrlOutput))]
[JsonSerializable(typeof(StopOutput))]
[JsonSerializable(typeof(AllStatusOutput))]
[JsonSerializable(typeof(VolumesOutput))]
[JsonSerializable(typeof(DomainsOutput))]
[JsonSerializable(typeof(HistoryOutput))]
[JsonSerializable(typeof(AppOutput))]
[JsonSerializable(typeof(AppDownOutput))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class JsonOut
{
    public static void Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        PeerCompute.Cli.CliJson.Write(value, typeInfo);
}

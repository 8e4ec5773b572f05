using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Trust;

namespace PeerCompute.Ctl.Output;

/// <summary>Shapes printed by <c>--json</c>. Field names are a stable interface for scripts: only add, never rename.</summary>
internal sealed record IdOutput(string PeerId, string Home);

internal sealed record PeersOutput(IReadOnlyList<TrustedPeer> Peers);

/// <param name="Via">How peerctl reached the provider: direct or relay.</param>
internal sealed record DeployOutput(string Id, string Name, string Provider, string ProviderName, string State, string? LocalUrl, string? PublicUrl, int CpuMillicores, long MemoryBytes,
    string Via);

internal sealed record StatusOutput(string Provider, string ProviderName, IReadOnlyList<DeploymentInfo> Deployments, CapacityInfo? Capacity, string Via);

internal sealed record StopOutput(string Id, string Name, string State, string Via);

internal sealed record ErrorOutput(ErrorResponse Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IdOutput))]
[JsonSerializable(typeof(PeersOutput))]
[JsonSerializable(typeof(TrustedPeer))]
[JsonSerializable(typeof(DeployOutput))]
[JsonSerializable(typeof(StatusOutput))]
[JsonSerializable(typeof(StopOutput))]
[JsonSerializable(typeof(ErrorOutput))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class JsonOut
{
    public static void Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        Console.Out.WriteLine(JsonSerializer.Serialize(value, typeInfo));
}

using System.Text.Json.Serialization;

namespace PeerCompute.Core.Trust;

/// <summary>One entry of <c>trusted_peers.json</c>.</summary>
public sealed record TrustedPeer(string PeerId, string? Name, IReadOnlyList<string> Addrs, DateTimeOffset AddedAt);

internal sealed record TrustFile(int Version, IReadOnlyList<TrustedPeer> Peers)
{
    public const int CurrentVersion = 1;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TrustFile))]
internal sealed partial class TrustJsonContext : JsonSerializerContext;

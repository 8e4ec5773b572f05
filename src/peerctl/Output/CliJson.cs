using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Trust;

namespace PeerCompute.Ctl.Output;

/// <summary>Shapes printed by <c>--json</c>. Field names are a stable interface for scripts: only add, never rename.</summary>
internal sealed record IdOutput(string PeerId, string Home);

internal sealed record PeersOutput(IReadOnlyList<TrustedPeer> Peers);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IdOutput))]
[JsonSerializable(typeof(PeersOutput))]
[JsonSerializable(typeof(TrustedPeer))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class JsonOut
{
    public static void Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        Console.Out.WriteLine(JsonSerializer.Serialize(value, typeInfo));
}

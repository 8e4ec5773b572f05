using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace PeerCompute.Runtime.Volumes;

/// <summary>One volume as the provider keeps it: <c>volumes/&lt;key&gt;.json</c> beside its filesystem file <c>&lt;key&gt;.img</c>.</summary>
internal sealed class VolumeRecord
{
    public const int CurrentSchema = 1;

    public int Schema { get; set; } = CurrentSchema;
    public required string Key { get; init; }
    public required string Owner { get; init; }
    public required string Name { get; init; }
    public required long SizeBytes { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// The volume's key: a hash of owner and name, so two owners' volumes of one name are two volumes, and neither the
    /// owner's id nor the name (both the requester's words) ever becomes part of a host path.
    /// </summary>
    public static string KeyFor(string owner, string name)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(owner + "\n" + name)))[..32];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(VolumeRecord))]
internal sealed partial class VolumeJsonContext : JsonSerializerContext;

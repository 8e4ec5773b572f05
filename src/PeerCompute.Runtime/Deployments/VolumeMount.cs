using PeerCompute.Core.Resources;

namespace PeerCompute.Runtime.Deployments;

/// <summary>
/// A named volume of the deployer mounted at <paramref name="Path"/> in the container: <c>NAME:/path[:SIZE]</c>. The name
/// is never a host path: volumes are the provider's own filesystems, one namespace per owner.
/// </summary>
/// <param name="SizeBytes">The size of a volume this deployment creates; null takes the provider's default. An existing volume keeps its size.</param>
public sealed record VolumeMount(string Name, string Path, long? SizeBytes = null)
{
    public const int MaxNameLength = 63;

    /// <summary>Parses <c>NAME:/path[:SIZE]</c>; the parts are checked further by the runtime's validation.</summary>
    public static bool TryParse(string? text, out VolumeMount mount, out string error)
    {
        mount = null!;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "volume: empty (expected NAME:/path or NAME:/path:SIZE)";
            return false;
        }
        string[] parts = text.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            error = $"volume: '{text}' is not NAME:/path or NAME:/path:SIZE";
            return false;
        }
        long? size = null;
        if (parts.Length == 3)
        {
            if (!Quantities.TryParseBytes(parts[2], out long bytes))
            {
                error = $"volume: '{parts[2]}' in '{text}' is not a size (examples: 512MB, 1GB)";
                return false;
            }
            size = bytes;
        }
        mount = new VolumeMount(parts[0], parts[1], size);
        return true;
    }

    /// <summary>Lowercase letters, digits, '-' and '_', starting with a letter or digit: never a path ('/', '.').</summary>
    public static bool IsName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !(char.IsAsciiDigit(name[0]) || char.IsAsciiLetterLower(name[0])))
            return false;
        foreach (char c in name)
        {
            if (!char.IsAsciiDigit(c) && !char.IsAsciiLetterLower(c) && c is not ('-' or '_'))
                return false;
        }
        return true;
    }

    public override string ToString() => SizeBytes is { } size ? $"{Name}:{Path}:{size}" : $"{Name}:{Path}";
}

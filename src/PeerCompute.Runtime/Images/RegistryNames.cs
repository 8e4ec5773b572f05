using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace PeerCompute.Runtime.Images;

/// <summary>Registry names as image references write them: <c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c>.</summary>
public static class RegistryNames
{
    /// <summary>The name in one spelling (lowercase host, brackets around an IPv6 literal); false when it is not a registry name.</summary>
    public static bool TryNormalize(string? text, [NotNullWhen(true)] out string? registry)
    {
        registry = null;
        if (string.IsNullOrWhiteSpace(text) || !ImageReference.TrySplitRegistry(text.Trim(), out string? host, out int? port))
            return false;
        string hostPart = host.Contains(':') ? $"[{host}]" : host;
        registry = port is { } p ? $"{hostPart}:{p.ToString(CultureInfo.InvariantCulture)}" : hostPart;
        return true;
    }
}

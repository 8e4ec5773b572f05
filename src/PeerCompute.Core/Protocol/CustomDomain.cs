namespace PeerCompute.Core.Protocol;

/// <summary>What a deployment's custom domain (<c>--domain</c>) may be.</summary>
public static class CustomDomain
{
    /// <summary>Custom domains one deployment may have (what one route carries to a gateway).</summary>
    public const int MaxPerDeployment = 8;

    /// <summary>How a typed domain is compared and stored: no surrounding spaces, no trailing dot, lower case.</summary>
    public static string Normalize(string domain) => domain.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>A lower-case DNS name of two or more labels (a-z, 0-9, inner '-'), no trailing dot: what a CNAME's owner can be.</summary>
    public static bool IsValid(string domain)
    {
        if (domain.Length is 0 or > 253 || !domain.Contains('.', StringComparison.Ordinal))
            return false;
        foreach (string label in domain.Split('.'))
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || label.Any(c => !(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-')))
                return false;
        return true;
    }
}

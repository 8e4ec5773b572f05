using System.Security.Cryptography;
using System.Text;
using PeerCompute.Core.Identity;

namespace PeerCompute.Tunnel.Hostnames;

/// <summary>
/// The public hostname rules: <c>&lt;deployment-name&gt;-&lt;provider-tag&gt;.&lt;domain&gt;</c>. The tag is derived from the
/// provider's PeerId, so a name is bound to one provider by construction; the gateway also remembers which PeerId
/// holds each tag (see <see cref="Gateway.HostnameBindings"/>), so a colliding key cannot take a tag over.
/// </summary>
public static class TunnelHostname
{
    /// <summary>Tag characters: 12 base32 characters carry 60 bits of the hash.</summary>
    public const int TagLength = 12;

    /// <summary>A DNS label is at most 63 characters.</summary>
    public const int MaxLabelLength = 63;

    /// <summary>The longest deployment name that still fits in one label with its tag.</summary>
    public const int MaxNameLength = MaxLabelLength - 1 - TagLength;

    private static ReadOnlySpan<byte> TagDomain => "peercompute/tunnel-tag/1"u8;
    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>The provider's tag: the first 60 bits of SHA-256(domain prefix ‖ PeerId multihash), base32, lower case.</summary>
    public static string TagFor(PeerId peerId)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        Span<byte> input = stackalloc byte[TagDomain.Length + peerId.Multihash.Length];
        TagDomain.CopyTo(input);
        peerId.Multihash.CopyTo(input[TagDomain.Length..]);
        byte[] hash = SHA256.HashData(input);
        return string.Create(TagLength, hash, static (chars, bytes) =>
        {
            // Big-endian bit reader: 5 bits per character.
            for (int i = 0; i < chars.Length; i++)
            {
                int bit = i * 5;
                int value = (bytes[bit / 8] << 8 | bytes[bit / 8 + 1]) >> (11 - bit % 8) & 0x1F;
                chars[i] = Base32Alphabet[value];
            }
        });
    }

    /// <summary>
    /// A deployment name usable in a hostname: 1 to <see cref="MaxNameLength"/> characters of <c>a-z 0-9 -</c>,
    /// starting and ending with a letter or digit, without <c>--</c> (reserved for IDNA).
    /// </summary>
    public static bool IsValidName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxNameLength || name[0] == '-' || name[^1] == '-' || name.Contains("--", StringComparison.Ordinal))
            return false;
        foreach (char c in name)
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'))
                return false;
        return true;
    }

    public static bool IsValidTag(ReadOnlySpan<char> tag)
    {
        if (tag.Length != TagLength)
            return false;
        foreach (char c in tag)
            if (!(c is >= 'a' and <= 'z' or >= '2' and <= '7'))
                return false;
        return true;
    }

    /// <summary>The hostname label <c>name-tag</c>.</summary>
    public static string LabelFor(string name, string tag)
    {
        if (!IsValidName(name))
            throw new ArgumentException($"'{name}' cannot be used in a hostname (use 1-{MaxNameLength} of a-z, 0-9 and single '-').", nameof(name));
        if (!IsValidTag(tag))
            throw new ArgumentException($"'{tag}' is not a provider tag.", nameof(tag));
        return $"{name}-{tag}";
    }

    /// <summary>Splits a label <c>name-tag</c>; false when either part breaks the rules.</summary>
    public static bool TryParseLabel(ReadOnlySpan<char> label, out string name, out string tag)
    {
        name = tag = "";
        int dash = label.LastIndexOf('-');
        if (dash <= 0 || !IsValidTag(label[(dash + 1)..]) || !IsValidName(label[..dash]))
            return false;
        name = label[..dash].ToString();
        tag = label[(dash + 1)..].ToString();
        return true;
    }

    /// <summary>
    /// The label of a request's Host (any case, with or without port or trailing dot) under <paramref name="domain"/>;
    /// false when the host is not exactly one valid label below the domain.
    /// </summary>
    public static bool TryGetLabel(ReadOnlySpan<char> host, string domain, out string label)
    {
        label = "";
        if (host.IsEmpty || host.Length > 253 + 7)
            return false;
        if (host[0] == '[')
            return false; // an IP literal
        int colon = host.LastIndexOf(':');
        if (colon >= 0)
        {
            foreach (char c in host[(colon + 1)..])
                if (c is < '0' or > '9')
                    return false;
            host = host[..colon];
        }
        if (host.EndsWith('.'))
            host = host[..^1];
        if (host.Length <= domain.Length + 1 || host[^(domain.Length + 1)] != '.' || !host[^domain.Length..].Equals(domain, StringComparison.OrdinalIgnoreCase))
            return false;
        var candidate = host[..^(domain.Length + 1)];
        if (candidate.Length > MaxLabelLength || candidate.Contains('.'))
            return false;
        // ASCII case folding only: ToLowerInvariant would turn the Kelvin sign (U+212A) into 'k', so a non-ASCII
        // Host would reach a route.
        Span<char> lower = stackalloc char[candidate.Length];
        for (int i = 0; i < candidate.Length; i++)
            lower[i] = candidate[i] is >= 'A' and <= 'Z' ? (char)(candidate[i] | 0x20) : candidate[i];
        if (!TryParseLabel(lower, out _, out _))
            return false;
        label = lower.ToString();
        return true;
    }

    /// <summary>Checks a gateway domain (lower case, dot-separated labels) and returns it normalised.</summary>
    public static string NormalizeDomain(string domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        string d = domain.Trim().TrimEnd('.').ToLowerInvariant();
        if (d.Length is 0 or > 200)
            throw new ArgumentException($"'{domain}' is not a domain name.", nameof(domain));
        foreach (string part in d.Split('.'))
        {
            if (part.Length is 0 or > MaxLabelLength || part[0] == '-' || part[^1] == '-' || part.Any(c => !(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-')))
                throw new ArgumentException($"'{domain}' is not a domain name (labels of a-z, 0-9 and '-').", nameof(domain));
        }
        return d;
    }

    /// <summary>The public URL of a deployment: <c>https://name-tag.domain</c>, with the port unless it is 443.</summary>
    public static string PublicUrl(string name, string tag, string domain, int httpsPort)
    {
        var url = new StringBuilder("https://").Append(LabelFor(name, tag)).Append('.').Append(domain);
        if (httpsPort != 443)
            url.Append(':').Append(httpsPort);
        return url.Append('/').ToString();
    }
}

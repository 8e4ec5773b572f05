using System.Diagnostics.CodeAnalysis;

namespace PeerCompute.Runtime.Images;

/// <summary>
/// A parsed image reference <c>[registry[:port]/]path[:tag][@sha256:hex]</c>, following the
/// distribution reference grammar closely enough to refuse anything the engine would misread.
/// </summary>
internal sealed record ImageReference
{
    public const int MaxLength = 255 + 128 + 72;
    public const string DefaultRegistry = "docker.io";

    private ImageReference(string? registry, string path, string? tag, string? digest)
    {
        Registry = registry;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>Registry host (with port) when the reference names one, else null (the engine's default).</summary>
    public string? Registry { get; }
    public string Path { get; }
    public string? Tag { get; }
    /// <summary><c>sha256:</c> followed by 64 lowercase hex digits, when pinned.</summary>
    public string? Digest { get; }

    /// <summary>Registry and path, as the engine names the repository.</summary>
    public string Repository => Registry is null ? Path : $"{Registry}/{Path}";

    /// <summary>The tag the engine pulls: the digest when pinned, else the tag, else "latest".</summary>
    public string PullTag => Digest ?? Tag ?? "latest";

    /// <summary>Reference the engine resolves locally: by digest when pinned, else by tag.</summary>
    public string LocalName => Digest is not null ? $"{Repository}@{Digest}" : $"{Repository}:{Tag ?? "latest"}";

    public override string ToString()
        => Repository + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public static ImageReference Parse(string text)
        => TryParse(text, out var reference, out string? error) ? reference : throw new RuntimeException(RuntimeErrorCode.InvalidSpec, error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "image: empty reference";
            return false;
        }
        if (text.Length > MaxLength)
        {
            error = $"image: reference longer than {MaxLength} characters";
            return false;
        }

        string rest = text;
        string? digest = null;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!IsSha256Digest(digest))
            {
                error = $"image: digest '{digest}' is not sha256: followed by 64 lowercase hex digits";
                return false;
            }
        }

        string? tag = null;
        int lastSlash = rest.LastIndexOf('/');
        int colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!IsTag(tag))
            {
                error = $"image: tag '{tag}' is not valid (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')";
                return false;
            }
        }

        string? registry = null;
        int firstSlash = rest.IndexOf('/');
        if (firstSlash > 0)
        {
            string first = rest[..firstSlash];
            if (first.Contains('.') || first.Contains(':') || first == "localhost")
            {
                registry = first;
                rest = rest[(firstSlash + 1)..];
                if (!IsRegistry(registry))
                {
                    error = $"image: registry '{registry}' is not a host[:port]";
                    return false;
                }
            }
        }

        if (!IsPath(rest))
        {
            error = $"image: repository '{rest}' is not valid (lowercase letters, digits and separators)";
            return false;
        }
        reference = new ImageReference(registry, rest, tag, digest);
        error = null;
        return true;
    }

    private static bool IsSha256Digest(string s)
    {
        if (!s.StartsWith("sha256:", StringComparison.Ordinal) || s.Length != 7 + 64)
            return false;
        foreach (char c in s.AsSpan(7))
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
                return false;
        }
        return true;
    }

    private static bool IsTag(string s)
    {
        if (s.Length is 0 or > 128 || s[0] is '.' or '-')
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
                return false;
        }
        return true;
    }

    /// <summary>
    /// Splits <c>host[:port]</c> (an IPv6 literal in brackets, <c>[::1]:5000</c>); the host comes back without brackets.
    /// False when it is not one.
    /// </summary>
    internal static bool TrySplitRegistry(string s, [NotNullWhen(true)] out string? host, out int? port)
    {
        host = null;
        port = null;
        string hostPart;
        string? portPart;
        if (s.StartsWith('['))
        {
            int close = s.IndexOf(']');
            if (close < 0 || !System.Net.IPAddress.TryParse(s[1..close], out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || s.Contains('%'))
                return false;
            hostPart = v6.ToString(); // one spelling: [0:0::1] is [::1]
            if (close == s.Length - 1)
                portPart = null;
            else if (s[close + 1] == ':')
                portPart = s[(close + 2)..];
            else
                return false;
        }
        else
        {
            int colon = s.IndexOf(':');
            hostPart = colon < 0 ? s : s[..colon];
            portPart = colon < 0 ? null : s[(colon + 1)..];
            if (!IsHostName(hostPart))
                return false;
        }
        if (portPart is not null)
        {
            if (!ushort.TryParse(portPart, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort number) || number == 0)
                return false;
            port = number;
        }
        host = hostPart.ToLowerInvariant();
        return true;
    }

    private static bool IsRegistry(string s) => TrySplitRegistry(s, out _, out _);

    private static bool IsHostName(string host)
    {
        if (host.Length is 0 or > 253)
            return false;
        foreach (string label in host.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                    return false;
            }
        }
        return true;
    }

    // path := component ('/' component)*; component := [a-z0-9]+ ((sep) [a-z0-9]+)*; sep := '.' | '_' | '__' | '-'+
    private static bool IsPath(string s)
    {
        if (s.Length is 0 or > 255)
            return false;
        foreach (string component in s.Split('/'))
        {
            if (component.Length == 0 || !IsLowerAlnum(component[0]) || !IsLowerAlnum(component[^1]))
                return false;
            for (int i = 1; i < component.Length - 1; i++)
            {
                char c = component[i];
                if (IsLowerAlnum(c) || (c == '-' && (IsLowerAlnum(component[i + 1]) || component[i + 1] == '-')))
                    continue;
                if (c == '.' && IsLowerAlnum(component[i + 1]))
                    continue;
                if (c == '_' && (IsLowerAlnum(component[i + 1]) || (component[i + 1] == '_' && i + 2 < component.Length && IsLowerAlnum(component[i + 2]))))
                {
                    if (component[i + 1] == '_')
                        i++;
                    continue;
                }
                return false;
            }
        }
        return true;
    }

    private static bool IsLowerAlnum(char c) => char.IsAsciiDigit(c) || c is >= 'a' and <= 'z';
}

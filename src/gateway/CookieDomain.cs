namespace PeerCompute.Gateway;

/// <summary>
/// Keeps a deployment's cookies to its own host. Every deployment is a subdomain of the gateway's domain, so a
/// <c>Set-Cookie</c> with <c>Domain=</c> the gateway domain (or any parent) would be sent to every other deployment.
/// Such a <c>Domain</c> attribute is removed, which makes the cookie host-only; <c>Domain=</c> the deployment's own
/// host means the same thing to a browser and is kept.
/// </summary>
internal static class CookieDomain
{
    /// <summary>The header value with any <c>Domain</c> attribute other than <paramref name="host"/> removed.</summary>
    public static string Restrict(string setCookie, ReadOnlySpan<char> host)
    {
        host = host.TrimEnd('.');
        // name=value comes first and is never an attribute, even if it looks like "Domain=…".
        int start = setCookie.IndexOf(';');
        if (start < 0)
            return setCookie;
        System.Text.StringBuilder? kept = null;
        int position = start;
        while (position < setCookie.Length)
        {
            int end = setCookie.IndexOf(';', position + 1);
            if (end < 0)
                end = setCookie.Length;
            ReadOnlySpan<char> attribute = setCookie.AsSpan(position + 1, end - position - 1).Trim();
            bool drop = false;
            if (attribute.StartsWith("domain", StringComparison.OrdinalIgnoreCase))
            {
                var rest = attribute["domain".Length..].TrimStart();
                if (rest.IsEmpty || rest[0] == '=')
                {
                    var value = rest.IsEmpty ? [] : rest[1..].Trim().TrimStart('.').TrimEnd('.');
                    drop = !value.Equals(host, StringComparison.OrdinalIgnoreCase);
                }
            }
            if (drop && kept is null)
                kept = new System.Text.StringBuilder(setCookie, 0, position, setCookie.Length);
            else if (!drop && kept is not null)
                kept.Append(setCookie, position, end - position);
            position = end;
        }
        return kept?.ToString() ?? setCookie;
    }
}

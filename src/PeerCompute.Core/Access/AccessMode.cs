namespace PeerCompute.Core.Access;

/// <summary>Who may open a deployment's public URL.</summary>
public enum AccessMode : byte
{
    /// <summary>Anyone (the default).</summary>
    Public = 0,
    /// <summary>Only a visitor holding a link signed by the deployment's owner (<see cref="UrlToken"/>), or the cookie it turns into.</summary>
    Private = 1,
    /// <summary>HTTP basic authentication against a stored username and password hash (<see cref="PasswordHash"/>).</summary>
    Basic = 2,
}

/// <summary>The words <c>public</c>, <c>private</c> and <c>basic</c> as the CLI and the JSON messages spell them.</summary>
public static class AccessModes
{
    public static string ToText(this AccessMode mode) => mode switch
    {
        AccessMode.Private => "private",
        AccessMode.Basic => "basic",
        _ => "public",
    };

    /// <summary>Parses <c>public</c>, <c>private</c> or <c>basic</c> (case-insensitive); null or empty is public.</summary>
    public static bool TryParse(string? text, out AccessMode mode)
    {
        mode = AccessMode.Public;
        if (string.IsNullOrEmpty(text) || text.Equals("public", StringComparison.OrdinalIgnoreCase))
            return true;
        if (text.Equals("private", StringComparison.OrdinalIgnoreCase))
        {
            mode = AccessMode.Private;
            return true;
        }
        if (text.Equals("basic", StringComparison.OrdinalIgnoreCase))
        {
            mode = AccessMode.Basic;
            return true;
        }
        return false;
    }
}

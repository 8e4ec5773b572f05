using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Access;

namespace PeerCompute.Gateway;

/// <summary>
/// Enforces a route's access rule before anything is forwarded, so a refused request never reaches the provider.
/// <list type="bullet">
/// <item>private: a link's token (<see cref="UrlToken"/>) signed by the owner the provider named, for this host, not
/// expired. The first visit answers 303 to the same URL without the token and sets the token as a host-only cookie
/// (<c>__Host-</c>, Secure, HttpOnly, SameSite=Lax, expiring with the token); later requests carry the cookie.
/// No token or cookie: 401. A bad, expired, foreign or misdirected one: 403.</item>
/// <item>basic: HTTP basic authentication against the stored PBKDF2 hash; anything else is 401 with a Basic challenge.</item>
/// </list>
/// What proved the access (the cookie, the Authorization header) is removed before forwarding (<see cref="TunnelTransformer"/>).
/// </summary>
internal sealed class AccessGate(ILogger logger, TimeProvider? time = null)
{
    /// <summary>A good basic password is remembered this long, so that a visitor's every request does not pay the slow hash.</summary>
    public static readonly TimeSpan VerifiedLifetime = TimeSpan.FromMinutes(10);

    /// <summary>At most this many remembered passwords; the memory is emptied when full.</summary>
    public const int MaxVerified = 4096;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _verified = new(StringComparer.Ordinal);

    /// <summary>True when the request may go on; otherwise the answer (401, 403 or the cookie-setting 303) is written.</summary>
    public async Task<bool> AdmitAsync(HttpContext context, string label, RouteAccess access)
    {
        switch (access.Mode)
        {
            case AccessMode.Public:
                return true;
            case AccessMode.Private when access.Owner is not null:
                return await AdmitPrivateAsync(context, label, access).ConfigureAwait(false);
            case AccessMode.Basic:
                if (AdmitBasic(context, label, access))
                    return true;
                context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{label}\", charset=\"UTF-8\"";
                await RefuseAsync(context, StatusCodes.Status401Unauthorized, label, "this deployment needs a user name and password").ConfigureAwait(false);
                return false;
            default:
                // The tunnel refuses such a route; never serve one open should it get here.
                await RefuseAsync(context, StatusCodes.Status403Forbidden, label, "this deployment is not open to the public").ConfigureAwait(false);
                return false;
        }
    }

    private async Task<bool> AdmitPrivateAsync(HttpContext context, string label, RouteAccess access)
    {
        string host = PublicRequestHandler.RawHost(context.Request);
        var now = _time.GetUtcNow();
        if (context.Request.Query.TryGetValue(UrlToken.QueryParameter, out var fromQuery))
        {
            var expires = DateTimeOffset.MinValue;
            var error = fromQuery.Count == 1 ? UrlToken.Verify(fromQuery[0], host, access.Owner!, now, out expires) : UrlTokenError.Malformed;
            if (error != UrlTokenError.None)
            {
                await RefuseAsync(context, StatusCodes.Status403Forbidden, label, Describe(error, "link")).ConfigureAwait(false);
                return false;
            }
            long maxAge = Math.Max(1, (long)(expires - now).TotalSeconds);
            context.Response.StatusCode = StatusCodes.Status303SeeOther;
            context.Response.Headers.Location = WithoutToken(context.Request);
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers.SetCookie = string.Create(CultureInfo.InvariantCulture,
                $"{UrlToken.CookieName}={fromQuery[0]}; Path=/; Max-Age={maxAge}; Secure; HttpOnly; SameSite=Lax");
            return false;
        }
        string? cookie = context.Request.Cookies[UrlToken.CookieName];
        if (cookie is null)
        {
            context.Response.Headers.WWWAuthenticate = $"PeerCompute-Link realm=\"{label}\"";
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, label, "this deployment is private: open it with a link from its owner (peerctl url)").ConfigureAwait(false);
            return false;
        }
        var cookieError = UrlToken.Verify(cookie, host, access.Owner!, now);
        if (cookieError == UrlTokenError.None)
            return true;
        // A cookie that no longer opens anything is dropped, so the next link starts clean.
        context.Response.Headers.SetCookie = $"{UrlToken.CookieName}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax";
        await RefuseAsync(context, StatusCodes.Status403Forbidden, label, Describe(cookieError, "access cookie")).ConfigureAwait(false);
        return false;
    }

    private static string Describe(UrlTokenError error, string what) => error switch
    {
        UrlTokenError.Expired => $"this {what} has expired; ask the deployment's owner for a new link",
        UrlTokenError.NotTheOwner => $"this {what} was not signed by the deployment's owner",
        UrlTokenError.BadSignature => $"this {what} is not valid for this deployment",
        _ => $"this {what} is malformed",
    };

    private bool AdmitBasic(HttpContext context, string label, RouteAccess access)
    {
        string? header = context.Request.Headers.Authorization.Count == 1 ? context.Request.Headers.Authorization[0] : null;
        if (header is null || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) || header.Length > 4096)
            return false;
        // Keyed by the stored hash too: a redeploy with another password forgets the old one at once.
        string key = label + "\n" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(access.BasicPasswordHash + "\n" + header)));
        var now = _time.GetUtcNow();
        if (_verified.TryGetValue(key, out var until) && until > now)
            return true;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }
        int colon = decoded.IndexOf(':');
        if (colon < 0)
            return false;
        bool userMatches = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(decoded[..colon]), Encoding.UTF8.GetBytes(access.BasicUser ?? ""));
        // The hash runs whatever the user name, so the time taken does not tell whether the name was right.
        bool passwordMatches = PasswordHash.Verify(decoded[(colon + 1)..], access.BasicPasswordHash);
        if (!userMatches || !passwordMatches)
            return false;
        if (_verified.Count >= MaxVerified)
            _verified.Clear();
        _verified[key] = now + VerifiedLifetime;
        return true;
    }

    /// <summary>The request's path and query without the token parameter: where the cookie-setting answer sends the browser.</summary>
    internal static string WithoutToken(HttpRequest request)
    {
        string path = (request.PathBase + request.Path).ToUriComponent();
        string query = request.QueryString.Value ?? "";
        if (query.Length <= 1)
            return path.Length == 0 ? "/" : path;
        var kept = query[1..].Split('&').Where(part =>
        {
            int equals = part.IndexOf('=');
            string name = equals < 0 ? part : part[..equals];
            return !Uri.UnescapeDataString(name.Replace('+', ' ')).Equals(UrlToken.QueryParameter, StringComparison.Ordinal);
        }).ToList();
        return (path.Length == 0 ? "/" : path) + (kept.Count == 0 ? "" : "?" + string.Join('&', kept));
    }

    private async Task RefuseAsync(HttpContext context, int status, string label, string message)
    {
        logger.LogDebug("{Label}: {Status} {Message}", label, status, message);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync($"{status}: {message}\n", context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The Cookie header without the access cookie (null when nothing else is left), so the container never sees the token.</summary>
    internal static string? WithoutAccessCookie(string cookieHeader)
    {
        var kept = cookieHeader.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(pair => !pair.StartsWith(UrlToken.CookieName + "=", StringComparison.Ordinal) && pair != UrlToken.CookieName);
        string joined = string.Join("; ", kept);
        return joined.Length == 0 ? null : joined;
    }
}

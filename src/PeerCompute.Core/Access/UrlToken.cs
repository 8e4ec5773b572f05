using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Access;

/// <summary>Why a private-URL token was not accepted.</summary>
public enum UrlTokenError
{
    None,
    Malformed,
    BadSignature,
    NotTheOwner,
    Expired,
}

/// <summary>
/// The token of a private URL: <c>v1.expiry.owner.signature</c>, where expiry is Unix seconds, owner the signer's
/// PeerId and signature the owner's Ed25519 signature over <c>peercompute-url-token/1 \n host \n expiry \n owner</c>.
/// It names the one hostname it opens, so a link for one deployment opens no other. Every character is safe in a
/// query string and in a cookie value, so the same text serves as both.
/// </summary>
public static class UrlToken
{
    /// <summary>The query parameter of a private link.</summary>
    public const string QueryParameter = "peercompute-token";

    /// <summary>
    /// The cookie a valid link turns into. The <c>__Host-</c> prefix makes browsers insist on Secure, Path=/ and no
    /// Domain, so the cookie is host-only: no other deployment under the gateway's domain ever sees it.
    /// </summary>
    public const string CookieName = "__Host-peercompute-access";

    public const int MaxLength = 512;

    /// <summary>The longest lifetime a link may ask for.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(366);

    private const string Version = "v1";

    public static string Create(PeerIdentity owner, string host, DateTimeOffset expires)
    {
        ArgumentNullException.ThrowIfNull(owner);
        string normalized = NormalizeHost(host);
        if (normalized.Length == 0)
            throw new ArgumentException("a token needs the hostname it opens", nameof(host));
        long expiry = expires.ToUnixTimeSeconds();
        byte[] signature = owner.Sign(SignedBytes(normalized, expiry, owner.PeerId));
        return string.Create(CultureInfo.InvariantCulture, $"{Version}.{expiry}.{owner.PeerId}.{Base64Url.EncodeToString(signature)}");
    }

    /// <summary>
    /// Checks a token presented at <paramref name="host"/>: well formed, signed by the key its owner field names,
    /// that owner being <paramref name="owner"/>, for this host, and not expired at <paramref name="now"/>.
    /// </summary>
    public static UrlTokenError Verify(string? token, string host, PeerId owner, DateTimeOffset now) =>
        Verify(token, host, owner, now, out _);

    public static UrlTokenError Verify(string? token, string host, PeerId owner, DateTimeOffset now, out DateTimeOffset expires)
    {
        ArgumentNullException.ThrowIfNull(owner);
        expires = default;
        if (!TryParse(token, out long expiry, out var signer, out byte[]? signature))
            return UrlTokenError.Malformed;
        // The host is inside the signed bytes: a link to another deployment fails here like a forged one.
        if (!PeerIdentity.Verify(signer, SignedBytes(NormalizeHost(host), expiry, signer), signature))
            return UrlTokenError.BadSignature;
        if (signer != owner)
            return UrlTokenError.NotTheOwner;
        expires = DateTimeOffset.FromUnixTimeSeconds(expiry);
        return expires <= now ? UrlTokenError.Expired : UrlTokenError.None;
    }

    private static bool TryParse(string? token, out long expiry, [NotNullWhen(true)] out PeerId? signer, [NotNullWhen(true)] out byte[]? signature)
    {
        expiry = 0;
        signer = null;
        signature = null;
        if (token is null || token.Length > MaxLength)
            return false;
        var parts = token.Split('.');
        if (parts.Length != 4 || parts[0] != Version
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out expiry) || expiry > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || !PeerId.TryParse(parts[2], out signer))
            return false;
        var buffer = new byte[PeerIdentity.SignatureLength + 3];
        if (Base64Url.DecodeFromChars(parts[3], buffer, out int consumed, out int written) != System.Buffers.OperationStatus.Done
            || consumed != parts[3].Length || written != PeerIdentity.SignatureLength)
            return false;
        signature = buffer[..written];
        return true;
    }

    /// <summary>Lower case, without a port or a trailing dot.</summary>
    public static string NormalizeHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        int colon = host.LastIndexOf(':');
        if (colon > 0 && host[^1] != ']')
            host = host[..colon];
        return host.TrimEnd('.').ToLowerInvariant();
    }

    private static byte[] SignedBytes(string host, long expiry, PeerId owner) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"peercompute-url-token/1\n{host}\n{expiry}\n{owner}"));
}

using System.Globalization;
using System.Net;

namespace PeerCompute.StatusPages;

/// <summary>What the gateway's and the provider's status pages write alike: escaped text, short PeerIds, UTC times.</summary>
internal static class StatusHtml
{
    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    public static string ShortPeerId(string peerId) => peerId.Length > 16 ? peerId[..8] + "…" + peerId[^6..] : peerId;

    public static string Utc(DateTimeOffset t, bool seconds = false) =>
        t.UtcDateTime.ToString(seconds ? "yyyy-MM-dd HH:mm:ss 'UTC'" : "yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

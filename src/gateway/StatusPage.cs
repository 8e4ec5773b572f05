using System.Globalization;
using System.Net;
using System.Text;
using PeerCompute.StatusPages;
using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Gateway;

/// <summary>What the gateway's status page shows, read at one moment.</summary>
internal sealed record GatewayStatusSnapshot(
    string Domain,
    DateTimeOffset StartedAt,
    DateTimeOffset Now,
    IReadOnlyList<TunnelRow> Tunnels,
    IReadOnlyList<LabelTraffic> Traffic,
    CertificateRow Certificate,
    IReadOnlyList<DomainStatus>? Domains = null);

internal sealed record TunnelRow(string PeerId, string Tag, string? Remote, DateTimeOffset ConnectedAt, IReadOnlyList<string> Routes, int OpenStreams);

internal sealed record CertificateRow(string Subject, string Issuer, DateTimeOffset NotAfter);

/// <summary>
/// The gateway's status page on its metrics port (<c>http://127.0.0.1:PORT/</c>): tunnels, deployments with their
/// requests and errors per minute over the last hour as inline SVG, the certificate's expiry, and where each custom
/// domain stands (waiting for its DNS, verified, served with its certificate's expiry, or failing). Plain server-side
/// HTML, no script; it reloads itself every 30 s.
/// </summary>
internal static class StatusPage
{
    /// <summary>Under this many days left the certificate's line is marked.</summary>
    public const int ExpiryWarningDays = 14;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(GatewayStatusSnapshot s)
    {
        var html = new StringBuilder(8192);
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
            <title>gateway status</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;text-align:left;border-bottom:1px solid #ddd}
            td.n{text-align:right;font-variant-numeric:tabular-nums}.warn{color:#b00;font-weight:bold}.off{color:#888}
            svg{vertical-align:middle}.req{fill:#4a7bd0}.err{fill:#d04a4a}
            </style></head><body>
            """);
        html.Append(Inv, $"<h1>gateway for {E(s.Domain)}</h1>\n");
        html.Append(Inv, $"<p>up since {Time(s.StartedAt)} ({Span(s.Now - s.StartedAt)}); page made {Time(s.Now)}</p>\n");

        double daysLeft = (s.Certificate.NotAfter - s.Now).TotalDays;
        string expiry = daysLeft < 0 ? "expired" : $"expires in {Math.Floor(daysLeft).ToString(Inv)} days";
        html.Append("<h2>Certificate</h2>\n");
        html.Append(Inv, $"<p id=\"certificate\" class=\"{(daysLeft < ExpiryWarningDays ? "warn" : "")}\">{E(s.Certificate.Subject)}, issued by {E(s.Certificate.Issuer)}: valid until {Time(s.Certificate.NotAfter)} ({expiry})</p>\n");

        var served = s.Tunnels.SelectMany(t => t.Routes.Select(r => (Label: r, Tunnel: t))).ToDictionary(x => x.Label, x => x.Tunnel, StringComparer.Ordinal);
        var traffic = s.Traffic.ToDictionary(t => t.Label, StringComparer.Ordinal);
        long total = s.Traffic.Sum(t => t.TotalRequests);
        long errors = s.Traffic.Sum(t => t.TotalErrors);
        html.Append("<h2>Last hour</h2>\n");
        html.Append(Inv, $"<p id=\"totals\">{total} requests, {errors} errors (5xx) {Chart(Sum(s.Traffic, t => t.Requests), Sum(s.Traffic, t => t.Errors), 480, 60, "all deployments")}</p>\n");

        html.Append(Inv, $"<h2>Tunnels: <span id=\"tunnel-count\">{s.Tunnels.Count}</span> connected</h2>\n");
        if (s.Tunnels.Count > 0)
        {
            html.Append("<table id=\"tunnels\"><tr><th>provider</th><th>tag</th><th>from</th><th>connected for</th><th>deployments</th><th>open streams</th></tr>\n");
            foreach (var t in s.Tunnels.OrderBy(t => t.Tag, StringComparer.Ordinal))
                html.Append(Inv, $"<tr><td title=\"{E(t.PeerId)}\">{E(Short(t.PeerId))}</td><td>{E(t.Tag)}</td><td>{E(t.Remote ?? "")}</td><td>{Span(s.Now - t.ConnectedAt)}</td><td class=\"n\">{t.Routes.Count}</td><td class=\"n\">{t.OpenStreams}</td></tr>\n");
            html.Append("</table>\n");
        }

        var labels = served.Keys.Union(traffic.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        html.Append(Inv, $"<h2>Deployments: <span id=\"deployment-count\">{served.Count}</span> served</h2>\n");
        if (labels.Count > 0)
        {
            html.Append("<table id=\"deployments\"><tr><th>hostname</th><th>provider</th><th>requests</th><th>errors</th><th>per minute, last hour</th></tr>\n");
            foreach (string label in labels)
            {
                traffic.TryGetValue(label, out var t);
                bool online = served.ContainsKey(label);
                html.Append(Inv, $"<tr class=\"{(online ? "" : "off")}\"><td>{E(label)}.{E(s.Domain)}</td><td>{(online ? "connected" : "offline")}</td>");
                html.Append(Inv, $"<td class=\"n\">{t?.TotalRequests ?? 0}</td><td class=\"n\">{t?.TotalErrors ?? 0}</td>");
                html.Append(Inv, $"<td>{Chart(t?.Requests ?? Zeros, t?.Errors ?? Zeros, 240, 28, label)}</td></tr>\n");
            }
            html.Append("</table>\n");
        }
        AppendDomains(html, s);
        html.Append("<p>Prometheus metrics: <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n");
        return html.ToString();
    }

    /// <summary>Custom domains: each with the hostname it routes to, its state, and what to do or when it is tried next.</summary>
    private static void AppendDomains(StringBuilder html, GatewayStatusSnapshot s)
    {
        var domains = s.Domains ?? [];
        html.Append(Inv, $"<h2>Custom domains: <span id=\"domain-count\">{domains.Count}</span></h2>\n");
        if (domains.Count == 0)
            return;
        html.Append("<table id=\"domains\"><tr><th>domain</th><th>routes to</th><th>state</th><th>certificate</th><th>next attempt</th><th>detail</th></tr>\n");
        foreach (var d in domains)
        {
            string target = d.Label is null ? "" : $"{d.Label}.{s.Domain}";
            string certificate = "";
            bool warn = d.State == DomainState.Failed;
            if (d.CertificateExpires is { } expires)
            {
                double days = (expires - s.Now).TotalDays;
                certificate = $"valid until {Time(expires)}";
                warn |= days < ExpiryWarningDays;
            }
            string next = d.NextAttempt is { } at && d.State != DomainState.Serving ? Time(at) : d.NextAttempt is { } renew ? "renews " + Time(renew) : "";
            html.Append(Inv, $"<tr class=\"{(warn ? "warn" : "")}\" data-state=\"{StateName(d.State)}\"><td>{E(d.Domain)}</td><td>{E(target)}</td><td>{StateName(d.State)}</td>");
            html.Append(Inv, $"<td>{certificate}</td><td>{next}</td><td>{E(d.Detail)}</td></tr>\n");
        }
        html.Append("</table>\n");
    }

    private static string StateName(DomainState state) => state switch
    {
        DomainState.WaitingForDns => "waiting for DNS",
        DomainState.Verified => "verified",
        DomainState.Serving => "serving",
        DomainState.Failed => "failed",
        DomainState.HeldByAnother => "held by another",
        _ => "unknown",
    };

    private static readonly long[] Zeros = new long[DeploymentTraffic.Minutes];

    /// <summary>One bar per minute: requests in blue, the errors among them in red over them.</summary>
    private static string Chart(IReadOnlyList<long> requests, IReadOnlyList<long> errors, int width, int height, string what)
    {
        long max = Math.Max(1, requests.Count == 0 ? 0 : requests.Max());
        double bar = (double)width / Math.Max(1, requests.Count);
        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        svg.Append(Inv, $"<title>{E(what)}: requests per minute over the last hour (max {max})</title>");
        svg.Append(Inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"#f4f4f4\"/>");
        for (int i = 0; i < requests.Count; i++)
        {
            if (requests[i] == 0)
                continue;
            double h = Math.Max(1, requests[i] * (double)height / max);
            svg.Append(Inv, $"<rect class=\"req\" x=\"{i * bar:0.##}\" y=\"{height - h:0.##}\" width=\"{Math.Max(1, bar - 1):0.##}\" height=\"{h:0.##}\"/>");
            if (errors[i] > 0)
            {
                double e = Math.Max(1, errors[i] * (double)height / max);
                svg.Append(Inv, $"<rect class=\"err\" x=\"{i * bar:0.##}\" y=\"{height - e:0.##}\" width=\"{Math.Max(1, bar - 1):0.##}\" height=\"{e:0.##}\"/>");
            }
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static long[] Sum(IReadOnlyList<LabelTraffic> traffic, Func<LabelTraffic, IReadOnlyList<long>> series)
    {
        var sum = new long[DeploymentTraffic.Minutes];
        foreach (var t in traffic)
        {
            var values = series(t);
            for (int i = 0; i < sum.Length && i < values.Count; i++)
                sum[i] += values[i];
        }
        return sum;
    }

    private static string E(string text) => StatusHtml.Encode(text);

    private static string Short(string peerId) => StatusHtml.ShortPeerId(peerId);

    private static string Time(DateTimeOffset t) => StatusHtml.Utc(t);

    private static string Span(TimeSpan span) => span.TotalDays >= 1 ? $"{(int)span.TotalDays} d {span.Hours} h"
        : span.TotalHours >= 1 ? $"{(int)span.TotalHours} h {span.Minutes} min"
        : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes} min"
        : $"{Math.Max(0, (int)span.TotalSeconds)} s";
}

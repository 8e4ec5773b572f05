using System.Globalization;
using System.Net;
using System.Text;
using PeerCompute.Core.Resources;
using PeerCompute.Provider.Service;
using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Status;
using PeerCompute.StatusPages;
using PeerCompute.Tunnel.Client;

namespace PeerCompute.Daemon.Hosting;

/// <summary>What the provider's status page shows, read at one moment.</summary>
internal sealed record ProviderStatusSnapshot(
    string PeerId,
    DateTimeOffset StartedAt,
    DateTimeOffset Now,
    CapacityReport Capacity,
    IReadOnlyList<DeploymentStatus> Deployments,
    IReadOnlyList<(string Gateway, TunnelStatus Status)> Tunnels,
    IReadOnlyList<Refusal> Refusals,
    long RefusalsTotal);

/// <summary>
/// The provider's local status page (<c>peercomputed --status-port</c>, 127.0.0.1 only): deployments with their state,
/// restarts and CPU/memory use against their limits, what admitted deployments hold against the provider's caps, the
/// gateway tunnels, and the latest refused requests with their reasons. Server-side HTML with inline SVG bars, no script.
/// </summary>
internal static class ProviderStatusPage
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(ProviderStatusSnapshot s)
    {
        var html = new StringBuilder(8192);
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
            <title>provider status</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;text-align:left;border-bottom:1px solid #ddd}
            td.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00}.ok{color:#070}
            svg{vertical-align:middle}.used{fill:#4a7bd0}.full{fill:#d04a4a}
            </style></head><body>
            """);
        html.Append(Inv, $"<h1>provider {E(Short(s.PeerId))}</h1>\n<p title=\"{E(s.PeerId)}\">{E(s.PeerId)}: up since {Time(s.StartedAt)}; page made {Time(s.Now)}</p>\n");

        var c = s.Capacity;
        html.Append("<h2>Caps</h2>\n<table id=\"caps\"><tr><th></th><th>held by deployments</th><th>cap</th><th></th></tr>\n");
        html.Append(Inv, $"<tr><td>CPU</td><td class=\"n\">{Quantities.FormatMillicores(c.UsedCpuMillicores)}</td><td class=\"n\" id=\"cpu-cap\">{Quantities.FormatMillicores(c.TotalCpuMillicores)}</td><td>{Bar(c.UsedCpuMillicores, c.TotalCpuMillicores, "CPU held")}</td></tr>\n");
        html.Append(Inv, $"<tr><td>memory</td><td class=\"n\">{Quantities.FormatBytes(c.UsedMemoryBytes)}</td><td class=\"n\">{Quantities.FormatBytes(c.TotalMemoryBytes)}</td><td>{Bar(c.UsedMemoryBytes, c.TotalMemoryBytes, "memory held")}</td></tr>\n");
        html.Append(Inv, $"<tr><td>deployments</td><td class=\"n\" id=\"deploy-count\">{c.Deploys}</td><td class=\"n\">{c.MaxDeploys}</td><td>{Bar(c.Deploys, c.MaxDeploys, "deployments")}</td></tr>\n</table>\n");

        html.Append(Inv, $"<h2>Deployments</h2>\n");
        if (s.Deployments.Count == 0)
            html.Append("<p>none</p>\n");
        else
        {
            html.Append("<table id=\"deployments\"><tr><th>name</th><th>owner</th><th>image</th><th>state</th><th>restarts</th><th>CPU use</th><th>memory use</th></tr>\n");
            foreach (var d in s.Deployments)
            {
                string state = d.State.ToString().ToLowerInvariant() + (d.ExitCode is { } code && d.State is not DeploymentState.Running ? $" (exit {code}{(d.OomKilled ? ", out of memory" : "")})" : "");
                string cls = d.State == DeploymentState.Running ? "ok" : d.State is DeploymentState.Exited or DeploymentState.Vanished or DeploymentState.Restarting ? "bad" : "";
                string cpu = d.Usage is { } u ? $"{Quantities.FormatMillicores((int)Math.Round(u.CpuMillicores))} of {Quantities.FormatMillicores(d.CpuMillicores)} {Bar((long)u.CpuMillicores, d.CpuMillicores, "CPU")}" : "-";
                string memory = d.Usage is { } m ? $"{Quantities.FormatBytes(m.MemoryBytes)} of {Quantities.FormatBytes(d.MemoryBytes)} {Bar(m.MemoryBytes, d.MemoryBytes, "memory")}" : "-";
                html.Append(Inv, $"<tr><td>{E(d.Name)}</td><td title=\"{E(d.Owner)}\">{E(Short(d.Owner))}</td><td>{E(d.Image)}</td><td class=\"{cls}\">{E(state)}</td><td class=\"n\">{d.RestartCount}</td><td>{cpu}</td><td>{memory}</td></tr>\n");
            }
            html.Append("</table>\n");
        }

        if (s.Tunnels.Count > 0)
        {
            html.Append("<h2>Gateways</h2>\n<table id=\"gateways\"><tr><th>gateway</th><th>state</th><th>since</th><th>last error</th></tr>\n");
            foreach (var (gateway, t) in s.Tunnels)
                html.Append(Inv, $"<tr><td>{E(gateway)}</td><td class=\"{(t.State == TunnelState.Connected ? "ok" : "bad")}\">{E(t.State.ToString().ToLowerInvariant())}</td><td>{(t.ConnectedSince is { } since ? Time(since) : "")}</td><td>{E(t.LastError ?? "")}</td></tr>\n");
            html.Append("</table>\n");
        }

        html.Append(Inv, $"<h2>Refused requests: <span id=\"refusal-count\">{s.RefusalsTotal}</span> since the start</h2>\n");
        if (s.Refusals.Count > 0)
        {
            html.Append("<table id=\"refusals\"><tr><th>when</th><th>peer</th><th>code</th><th>reason</th></tr>\n");
            foreach (var r in s.Refusals)
                html.Append(Inv, $"<tr><td>{Time(r.At, seconds: true)}</td><td title=\"{E(r.Peer)}\">{E(Short(r.Peer))}</td><td>{E(r.Code)}</td><td>{E(r.Message)}</td></tr>\n");
            html.Append("</table>\n");
        }
        html.Append("</body></html>\n");
        return html.ToString();
    }

    /// <summary>A 120×12 bar: the share of <paramref name="cap"/> in use, red from 90 %.</summary>
    private static string Bar(long used, long cap, string what)
    {
        double share = cap <= 0 ? 0 : Math.Clamp((double)used / cap, 0, 1);
        return string.Create(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"12\" role=\"img\"><title>{E(what)}: {share * 100:0} %</title><rect width=\"120\" height=\"12\" fill=\"#eee\"/><rect class=\"{(share >= 0.9 ? "full" : "used")}\" width=\"{share * 120:0.#}\" height=\"12\"/></svg>");
    }

    private static string E(string text) => StatusHtml.Encode(text);

    private static string Short(string peerId) => StatusHtml.ShortPeerId(peerId);

    private static string Time(DateTimeOffset t, bool seconds = false) => StatusHtml.Utc(t, seconds);
}

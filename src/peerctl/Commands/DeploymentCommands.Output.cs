using System.Globalization;
using PeerCompute.Cli;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Resources;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>How deployments are shown: the status table and its extra lines, durations, and the image pull.</summary>
internal sealed partial class DeploymentCommands
{
    private static readonly string[] Header = ["NAME", "ID", "STATE", "IMAGE", "CPU", "MEMORY", "UPTIME", "URL"];

    private static string[] Row(DeploymentInfo d) =>
    [
        .. new[]
        {
            d.Name, d.Id, d.State + (d.ExitCode is { } c && d.State != "running" ? $" ({c})" : "") + (d.Health is { } h && d.State == "running" ? $" ({h})" : ""), d.Image,
            Quantities.FormatMillicores(d.CpuMillicores), Quantities.FormatBytes(d.MemoryBytes),
            d.State == "running" ? Age(DateTimeOffset.UtcNow - d.CreatedAt) : "-",
            d.PublicUrl ?? d.LocalUrl ?? "-",
        }.Select(Show),
    ];

    /// <summary>A duration option: 500ms, 10s, 1m, 1h, or a number of seconds; null when not given.</summary>
    private static long? Duration(string? text, string option)
    {
        if (text is null)
            return null;
        string t = text.Trim();
        (string number, double scale) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 1.0)
            : t.EndsWith('s') ? (t[..^1], 1000.0)
            : t.EndsWith('m') ? (t[..^1], 60_000.0)
            : t.EndsWith('h') ? (t[..^1], 3_600_000.0)
            : (t, 1000.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value < 0 || value * scale > 24 * 3_600_000.0)
            throw new UsageException($"{option} '{text}' is not a duration (examples: 500ms, 10s, 1m).");
        return (long)Math.Round(value * scale);
    }

    /// <summary>"web: healthy (provider check); last failure at ...: reason", for a deployment with a health check.</summary>
    /// <summary>One line per custom domain and gateway: where it stands, and what to do next when something is missing.</summary>
    internal static IEnumerable<string> DomainLines(DeploymentInfo d)
    {
        if (d.Domains is not { Count: > 0 } domains)
            yield break;
        yield return $"\n{Show(d.Name)}: custom domains";
        foreach (var domain in domains)
        {
            string at = domain.Gateway is { } gateway ? $" at {Show(gateway)}" : "";
            string next = domain.State == "failed" && domain.NextAttempt is { } when ? $" (next attempt {when.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z)" : "";
            yield return $"  {Show(domain.Name)}{at}: {Show(domain.State.Replace('_', ' '))}: {Show(domain.Detail)}{next}";
        }
    }

    private static string? HealthLine(DeploymentInfo d)
    {
        if (d.Health is not { } health)
            return null;
        string source = d.HealthSource == "image" ? "the image's HEALTHCHECK" : "provider check";
        string failure = d.HealthFailedAt is { } at ? $"; last failure at {at.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z: {d.HealthFailure}" : "";
        return Show($"{d.Name}: {health} ({source}){failure}");
    }

    /// <summary>"web: 4 restarts (restart unless-stopped); last exit 1 at ...; next attempt at ... (in 2s)", once it exited.</summary>
    private static string? RestartLine(DeploymentInfo d)
    {
        if (d.Restarts == 0 && d.LastExitAt is null && d.NextRestartAt is null)
            return null;
        string exit = d.LastExitAt is { } at ? $"; last exit {d.LastExitCode?.ToString(CultureInfo.InvariantCulture) ?? "?"} at {at.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z" : "";
        string next = d.NextRestartAt is { } n ? $"; next attempt at {n.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z (in {Math.Max(0, (n - DateTimeOffset.UtcNow).TotalSeconds):0.#}s)" : "";
        return Show($"{d.Name}: {d.Restarts} restart{(d.Restarts == 1 ? "" : "s")} (restart {d.Restart ?? "unless-stopped"}){exit}{next}");
    }

    /// <summary>A provider that could not be asked: its state is "error" and the message takes the rest of the line.</summary>
    private static string[] ErrorRow(string provider, string message) => [provider, "-", "-", "error", Show(message), "", "", "", ""];

    private static string CapacityLine(string provider, CapacityInfo c) =>
        $"{provider}: {c.Deploys}/{c.MaxDeploys} deployments, cpu {c.UsedCpuMillicores}m/{c.MaxCpuMillicores}m, memory {Quantities.FormatBytes(c.UsedMemoryBytes)}/{Quantities.FormatBytes(c.MaxMemoryBytes)}{(c.MaxStorageBytes > 0 ? $", volumes {Quantities.FormatBytes(c.UsedStorageBytes)}/{Quantities.FormatBytes(c.MaxStorageBytes)}" : "")} in use";

    /// <summary>Columns padded to the widest cell; the STATE column coloured on a terminal; an error row's message is not padded.</summary>
    internal static void WriteTable(string[] header, List<string[]> rows)
    {
        int state = Array.IndexOf(header, "STATE");
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Where(r => !IsError(r) || i <= state).Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        Console.Out.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var row in rows)
        {
            var cells = IsError(row) ? row.Take(state + 2).ToArray() : row;
            Console.Out.WriteLine(string.Join("  ", cells.Select((v, i) => i == state ? Colors.State(v, widths[i]) : i == cells.Length - 1 ? v : v.PadRight(widths[i]))).TrimEnd());
        }

        bool IsError(string[] row) => state >= 0 && row[state] == "error" && row[^1].Length == 0 && row[state + 1].Length > 0;
    }

    /// <summary>Provider-supplied text for a person: no control characters reach the terminal.</summary>
    internal static string Show(string? text) => TerminalText.Neutralise(text);

    private static string Age(TimeSpan age) => age.TotalDays >= 1 ? $"{(int)age.TotalDays}d" : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h" : age.TotalMinutes >= 1 ? $"{(int)age.TotalMinutes}m" : $"{Math.Max(0, (int)age.TotalSeconds)}s";

    /// <summary>
    /// The image pull on stderr. On a terminal, like docker pull: one line per layer, redrawn in place as its bytes
    /// arrive. Otherwise one plain line each time a layer (or the pull) changes step, never the byte counts, so a log
    /// gets stable lines.
    /// </summary>
    private sealed class PullDisplay : IProgress<DeployProgress>
    {
        private readonly List<string> _layers = [];
        private readonly Dictionary<string, string> _lines = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _steps = new(StringComparer.Ordinal);
        private int _drawn;

        public void Report(DeployProgress value)
        {
            string status = Show(value.Status);
            if (value.Layer is not { } rawLayer)
            {
                if (Terminal.IsInteractive)
                    Redraw(above: status);
                else
                    Console.Error.WriteLine(status);
                return;
            }
            string layer = Show(rawLayer);
            bool newStep = !_steps.TryGetValue(layer, out string? step) || step != status;
            _steps[layer] = status;
            if (!Terminal.IsInteractive)
            {
                if (newStep)
                    Console.Error.WriteLine($"{layer}: {status}");
                return;
            }
            if (!_lines.ContainsKey(layer))
                _layers.Add(layer);
            _lines[layer] = $"{layer}: {status}{Bar(value)}";
            Redraw(above: null);
        }

        private static string Bar(DeployProgress value)
        {
            if (value is not { Current: { } current, Total: { } total and > 0 })
                return "";
            int filled = (int)Math.Clamp(30 * current / total, 0, 30);
            return string.Create(CultureInfo.InvariantCulture, $" [{new string('=', filled)}{(filled < 30 ? ">" : "")}{new string(' ', Math.Max(0, 29 - filled))}] {Quantities.FormatBytes(current)}/{Quantities.FormatBytes(total)}");
        }

        /// <summary>Moves up over the layer lines drawn before and writes them again (with a new line above them, if any).</summary>
        private void Redraw(string? above)
        {
            var error = Console.Error;
            if (_drawn > 0)
                error.Write($"\e[{_drawn}A");
            if (above is not null)
                error.Write($"\e[2K{above}\n");
            foreach (string layer in _layers)
                error.Write($"\e[2K{_lines[layer]}\n");
            _drawn = _layers.Count;
            error.Flush();
        }
    }
}

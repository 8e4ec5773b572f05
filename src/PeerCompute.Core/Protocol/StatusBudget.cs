using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeerCompute.Core.Protocol;

/// <summary>How much log text a status response may carry, in bytes as they go on the wire (after JSON escaping).</summary>
public sealed record StatusLimits
{
    public const int DefaultMaxLogBytesPerDeployment = 16 * 1024;
    public const int DefaultMaxLogBytesTotal = 256 * 1024;

    /// <summary>The last log lines of one deployment that is not running: the latest kept, the oldest dropped first.</summary>
    public int MaxLogBytesPerDeployment { get; init; } = DefaultMaxLogBytesPerDeployment;

    /// <summary>The last log lines of every deployment in one response together.</summary>
    public int MaxLogBytesTotal { get; init; } = DefaultMaxLogBytesTotal;
}

/// <summary>
/// Cuts the log excerpts of a status response down to <see cref="StatusLimits"/>, so what a container prints can
/// never make its owner's status too large to send. Sizes are measured as the JSON encoder writes them (a quote or a
/// control character takes more bytes escaped than raw). The newest lines are kept; a line that alone is over what is
/// left keeps its end, marked with <see cref="CutMark"/>.
/// </summary>
public static class StatusBudget
{
    public const string CutMark = "…";

    public static StatusResponse Fit(StatusResponse response, StatusLimits limits)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(limits);
        var encoder = ProtocolJsonContext.Default.Options.Encoder ?? JavaScriptEncoder.Default;
        int total = Math.Max(0, limits.MaxLogBytesTotal);
        var fitted = new List<DeploymentInfo>(response.Deployments.Count);
        bool changed = false;
        foreach (var deployment in response.Deployments)
        {
            if (deployment?.LastLogLines is not { Count: > 0 } lines)
            {
                fitted.Add(deployment!);
                continue;
            }
            int budget = Math.Min(Math.Max(0, limits.MaxLogBytesPerDeployment), total);
            var kept = FitLines(lines, budget, encoder, out int used);
            total -= used;
            changed |= kept.Count != lines.Count || !kept.SequenceEqual(lines);
            fitted.Add(deployment with { LastLogLines = kept });
        }
        return changed ? response with { Deployments = fitted } : response;
    }

    /// <summary>The newest lines whose escaped sizes (plus a quote pair and a comma each) fit in <paramref name="budget"/>.</summary>
    private static List<string> FitLines(IReadOnlyList<string> lines, int budget, JavaScriptEncoder encoder, out int used)
    {
        const int Overhead = 3; // "..." and the comma between array items
        var kept = new List<string>();
        used = 0;
        for (int i = lines.Count - 1; i >= 0; i--)
        {
            string line = lines[i] ?? "";
            int size = EncodedLength(line, encoder) + Overhead;
            if (used + size <= budget)
            {
                kept.Add(line);
                used += size;
                continue;
            }
            int room = budget - used - Overhead - EncodedLength(CutMark, encoder);
            if (room > 0 && TailThatFits(line, room, encoder) is { Length: > 0 } tail)
            {
                string cut = CutMark + tail;
                kept.Add(cut);
                used += EncodedLength(cut, encoder) + Overhead;
            }
            break;
        }
        kept.Reverse();
        return kept;
    }

    /// <summary>The longest end of <paramref name="line"/> whose escaped size is at most <paramref name="room"/>, never half a surrogate pair.</summary>
    private static string TailThatFits(string line, int room, JavaScriptEncoder encoder)
    {
        int low = 0, high = Math.Min(line.Length, room); // each character takes at least one byte
        while (low < high)
        {
            int mid = (low + high + 1) / 2;
            if (EncodedLength(Tail(line, mid), encoder) <= room)
                low = mid;
            else
                high = mid - 1;
        }
        return Tail(line, low);
    }

    private static string Tail(string line, int length)
    {
        int start = line.Length - length;
        if (start > 0 && start < line.Length && char.IsLowSurrogate(line[start]))
            start++;
        return line[start..];
    }

    private static int EncodedLength(string text, JavaScriptEncoder encoder) => JsonEncodedText.Encode(text, encoder).EncodedUtf8Bytes.Length;
}

using System.Globalization;
using System.Text;
using PeerCompute.Core.Storage;
using PeerCompute.Runtime.Logs;

namespace PeerCompute.Runtime.State;

/// <summary>
/// The log of a deployment's previous container (replaced by an update, or an update's container that failed), under
/// <c>provider/previous-logs/&lt;id&gt;.log</c>: the engine's json-file log goes with its container, so it is copied
/// here before the container is removed. One file per deployment (the newest copy replaces the one before), at most
/// <see cref="RuntimeOptions.PreviousLogsBytes"/>: the last lines are kept.
/// </summary>
/// <remarks>One line per log line: <c>o|e</c>, the timestamp (round-trip format), the text, tab-separated (a container's text has no newline).</remarks>
internal sealed class PreviousLogStore(string stateFolder, long maxBytes)
{
    private readonly string _folder = Path.Combine(Path.GetFullPath(stateFolder), "previous-logs");

    public long MaxBytes => maxBytes;

    /// <summary>Keeps the last lines of <paramref name="lines"/> that fit the cap; nothing when the cap is 0.</summary>
    public async Task SaveAsync(string id, IAsyncEnumerable<ContainerLogLine> lines, CancellationToken cancellationToken)
    {
        if (maxBytes <= 0)
            return;
        var kept = new Queue<string>();
        long size = 0;
        await foreach (var line in lines.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            string text = Format(line);
            long bytes = Encoding.UTF8.GetByteCount(text) + 1;
            if (bytes > maxBytes)
                continue;
            kept.Enqueue(text);
            size += bytes;
            while (size > maxBytes)
                size -= Encoding.UTF8.GetByteCount(kept.Dequeue()) + 1;
        }
        var builder = new StringBuilder();
        foreach (string text in kept)
            builder.Append(text).Append('\n');
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(_folder);
        else
            Directory.CreateDirectory(_folder, PeerComputeHome.FolderMode);
        await AtomicFile.WriteAsync(PathFor(id), Encoding.UTF8.GetBytes(builder.ToString()), AtomicFile.OwnerOnly, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>The kept lines, oldest first; null when none were kept for the deployment.</summary>
    public async Task<IReadOnlyList<ContainerLogLine>?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        string path = PathFor(id);
        if (!File.Exists(path))
            return null;
        var result = new List<ContainerLogLine>();
        foreach (string line in await File.ReadAllLinesAsync(path, cancellationToken).ConfigureAwait(false))
        {
            string[] parts = line.Split('\t', 3);
            if (parts.Length == 3 && DateTimeOffset.TryParse(parts[1], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
                result.Add(new ContainerLogLine(parts[0] == "e" ? LogStream.Stderr : LogStream.Stdout, time, parts[2]));
        }
        return result;
    }

    public void Delete(string id)
    {
        try
        {
            File.Delete(PathFor(id));
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static string Format(ContainerLogLine line)
        => $"{(line.Stream == LogStream.Stderr ? "e" : "o")}\t{line.Timestamp.ToString("O", CultureInfo.InvariantCulture)}\t{line.Text.ReplaceLineEndings(" ")}";

    private string PathFor(string id) => Path.Combine(_folder, id + ".log");
}

using PeerCompute.Runtime.Logs;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>What a test deployment printed: its logs so far, and the <c>key=value</c> lines its script reports with.</summary>
internal static class ContainerOutput
{
    public static async Task<(string Stdout, string Stderr)> LogsAsync(IDeploymentRuntime runtime, string id, string owner)
    {
        var lines = new List<ContainerLogLine>();
        await foreach (var entry in runtime.StreamLogsAsync(id, owner))
            lines.Add(entry);
        return (string.Join('\n', lines.Where(l => l.Stream == LogStream.Stdout).Select(l => l.Text)),
                string.Join('\n', lines.Where(l => l.Stream == LogStream.Stderr).Select(l => l.Text)));
    }

    public static string Line(string output, string key)
        => output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..]
           ?? throw new InvalidOperationException($"no {key}= line in:\n{output}");
}

using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>One deployment record as the provider persisted it (provider/deployments/&lt;id&gt;.json).</summary>
internal sealed record StateRecord(string Id, string Phase, string? ContainerId);

/// <summary>One container carrying the runtime's labels, as the engine lists it.</summary>
internal sealed record LabelledContainer(string Id, string Deployment, string State);

/// <summary>The provider's state records read straight from disk, and the labelled containers straight from Docker.</summary>
internal static class ProviderState
{
    public static string DeploymentsFolder(PeerNode provider) => Path.Combine(provider.Home, "provider", "deployments");

    /// <summary>Every record file; throws when one does not parse (a torn or truncated write).</summary>
    public static IReadOnlyList<StateRecord> Records(PeerNode provider)
    {
        string folder = DeploymentsFolder(provider);
        if (!Directory.Exists(folder))
            return [];
        var records = new List<StateRecord>();
        foreach (string file in Directory.EnumerateFiles(folder, "*.json").Where(f => !Path.GetFileName(f).StartsWith('.')))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            var root = doc.RootElement;
            records.Add(new StateRecord(
                root.GetProperty("id").GetString()!,
                root.GetProperty("phase").GetString()!,
                root.TryGetProperty("containerId", out var c) ? c.GetString() : null));
        }
        return records;
    }

    /// <summary>Leftovers of writes that did not complete (AtomicFile's temporary files) and records set aside as corrupt.</summary>
    public static IReadOnlyList<string> Debris(PeerNode provider)
    {
        string folder = DeploymentsFolder(provider);
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder).Select(Path.GetFileName).Where(n => n!.EndsWith(".tmp", StringComparison.Ordinal) || n.EndsWith(".corrupt", StringComparison.Ordinal))!]
            : [];
    }

    public static async Task<IReadOnlyList<LabelledContainer>> ContainersAsync(PeerNode provider, string? dockerHost = null)
    {
        string[] host = dockerHost is null ? [] : ["-H", dockerHost];
        var list = await TestProcess.RunAsync("docker", [.. host, "ps", "-a", "--no-trunc", "--filter", $"label=io.peercompute.instance={provider.PeerId}",
            "--format", "{{.ID}} {{.Label \"io.peercompute.deployment\"}} {{.State}}"]);
        if (list.ExitCode != 0)
            throw new InvalidOperationException($"docker ps failed: {list}");
        return [.. list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' '))
            .Select(f => new LabelledContainer(f[0], f[1], f[2]))];
    }

    /// <summary>
    /// State and reality agree: every container the runtime labelled for this provider has an active record
    /// naming it (nothing leaked), and every active record has its container (nothing lost). Returns what
    /// disagrees, empty when all is well.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DisagreementsAsync(PeerNode provider, string? dockerHost = null)
    {
        var records = Records(provider);
        var containers = await ContainersAsync(provider, dockerHost);
        var problems = new List<string>();
        foreach (var container in containers)
        {
            var record = records.FirstOrDefault(r => r.Id == container.Deployment);
            if (record is null)
                problems.Add($"container {container.Id[..12]} (deployment {container.Deployment}, {container.State}) has no record: leaked");
            else if (record.Phase != "Active" || record.ContainerId != container.Id)
                problems.Add($"container {container.Id[..12]} of {record.Id} is {container.State} but its record says {record.Phase} with container {record.ContainerId}");
        }
        foreach (var record in records.Where(r => r.Phase is "Active" or "Admitted"))
        {
            if (!containers.Any(c => c.Deployment == record.Id))
                problems.Add($"record {record.Id} is {record.Phase} but no container exists: lost");
        }
        return problems;
    }
}

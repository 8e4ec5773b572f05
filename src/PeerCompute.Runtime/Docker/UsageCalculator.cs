using Docker.DotNet.Models;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Docker;

/// <summary>Turns an engine stats sample into usage figures, the way the docker CLI computes them.</summary>
internal static class UsageCalculator
{
    public static ResourceUsage From(ContainerStatsResponse stats)
    {
        double millicores = 0;
        ulong total = stats.CPUStats?.CPUUsage?.TotalUsage ?? 0;
        ulong previous = stats.PreCPUStats?.CPUUsage?.TotalUsage ?? 0;
        ulong system = stats.CPUStats?.SystemUsage ?? 0;
        ulong previousSystem = stats.PreCPUStats?.SystemUsage ?? 0;
        if (total > previous && system > previousSystem)
        {
            uint cpus = stats.CPUStats?.OnlineCPUs is { } online and > 0 ? online : (uint)(stats.CPUStats?.CPUUsage?.PercpuUsage?.Count ?? 1);
            millicores = (double)(total - previous) / (system - previousSystem) * cpus * 1000.0;
        }

        long memory = (long)(stats.MemoryStats?.Usage ?? 0);
        // Page cache that can be dropped is not the container's working set.
        var details = stats.MemoryStats?.Stats;
        if (details is not null)
        {
            if (details.TryGetValue("total_inactive_file", out ulong inactive) || details.TryGetValue("inactive_file", out inactive))
                memory = Math.Max(0, memory - (long)inactive);
        }
        return new ResourceUsage(
            Math.Round(millicores, 1),
            TimeSpan.FromTicks((long)(total / 100)),
            memory,
            (long)(stats.MemoryStats?.Limit ?? 0),
            (long)(stats.PidsStats?.Current ?? 0));
    }
}

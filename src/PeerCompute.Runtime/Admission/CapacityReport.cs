namespace PeerCompute.Runtime.Admission;

/// <summary>The provider's caps, what admitted deployments hold, and what is left.</summary>
public sealed record CapacityReport(
    int TotalCpuMillicores,
    long TotalMemoryBytes,
    int MaxDeploys,
    int UsedCpuMillicores,
    long UsedMemoryBytes,
    int Deploys,
    int Running)
{
    public int FreeCpuMillicores => TotalCpuMillicores - UsedCpuMillicores;
    public long FreeMemoryBytes => TotalMemoryBytes - UsedMemoryBytes;
    public int FreeDeploys => MaxDeploys - Deploys;
}

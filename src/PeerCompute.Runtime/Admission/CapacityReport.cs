namespace PeerCompute.Runtime.Admission;

/// <summary>The provider's caps, what admitted deployments hold, and what is left.</summary>
public sealed record CapacityReport(
    int TotalCpuMillicores,
    long TotalMemoryBytes,
    int MaxDeploys,
    int UsedCpuMillicores,
    long UsedMemoryBytes,
    int Deploys,
    int Running,
    long TotalStorageBytes = 0,
    long UsedStorageBytes = 0)
{
    public int FreeCpuMillicores => TotalCpuMillicores - UsedCpuMillicores;
    public long FreeMemoryBytes => TotalMemoryBytes - UsedMemoryBytes;
    public int FreeDeploys => MaxDeploys - Deploys;
    /// <summary>Storage not yet held by volumes.</summary>
    public long FreeStorageBytes => TotalStorageBytes - UsedStorageBytes;
}

namespace PeerCompute.Runtime.Volumes;

/// <summary>One of an owner's volumes: its size cap, the bytes its filesystem uses, and the deployments that mount it.</summary>
/// <param name="UsedBytes">Bytes in use on the volume's filesystem (ext4's own metadata included); null when it is not mounted.</param>
/// <param name="UsedBy">Names of the deployments that mount it now; empty when none does.</param>
public sealed record VolumeInfo(string Name, long SizeBytes, long? UsedBytes, IReadOnlyList<string> UsedBy, DateTimeOffset CreatedAt);

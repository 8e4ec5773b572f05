namespace PeerCompute.Runtime.State;

/// <summary>A deployment's record in memory, with the gate that one change at a time holds (deploy, stop, remove, reconcile).</summary>
internal sealed class TrackedDeployment(DeploymentRecord record)
{
    public DeploymentRecord Record { get; } = record;
    public SemaphoreSlim Gate { get; } = new(1, 1);
}

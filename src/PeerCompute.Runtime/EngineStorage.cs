namespace PeerCompute.Runtime;

/// <summary>
/// What the engine's storage can do, found once when the runtime starts: whether it caps a container's writable layer
/// (Docker's <c>--storage-opt size=</c>) and whether the engine remaps user namespaces.
/// </summary>
/// <param name="Driver">The engine's storage driver (overlay2, btrfs, zfs, ...).</param>
/// <param name="BackingFilesystem">The filesystem under the driver's data, as the engine reports it (extfs, xfs, ...); null when it does not say.</param>
/// <param name="CapsWritableLayer">A container created with a size cap on its writable layer was accepted, so the engine enforces it.</param>
/// <param name="CapProblem">Why the engine cannot cap writable layers (its own refusal); null when it can.</param>
/// <param name="UserNamespaceRemap">The engine runs containers in a remapped user namespace (<c>dockerd --userns-remap</c>).</param>
public sealed record EngineStorage(string Driver, string? BackingFilesystem, bool CapsWritableLayer, string? CapProblem, bool UserNamespaceRemap)
{
    /// <summary>The driver and its filesystem, for messages: "overlay2 on extfs".</summary>
    public string Describe() => BackingFilesystem is null ? Driver : $"{Driver} on {BackingFilesystem}";
}

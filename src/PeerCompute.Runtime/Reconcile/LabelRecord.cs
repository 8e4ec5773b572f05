using System.Globalization;
using PeerCompute.Core.Access;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Reconcile;

/// <summary>
/// A minimal record rebuilt from a container's labels, for a deployment whose record file became unreadable. The
/// labels were written by this runtime when it created the container, so they say who owns it and what it was given;
/// what they do not carry (environment, command) is not needed to show, route, stop or remove it.
/// </summary>
internal static class LabelRecord
{
    /// <summary>The record, or null with <paramref name="missing"/> naming the first label that is absent or malformed.</summary>
    public static DeploymentRecord? Rebuild(ContainerSummary container, DateTimeOffset now, out string? missing)
    {
        missing = null;
        string? id = container.Label(ContainerNaming.DeploymentId);
        string? owner = container.Label(ContainerNaming.Owner);
        string? name = container.Label(ContainerNaming.Name);
        string? image = container.Label(ContainerNaming.Image);
        string? specHash = container.Label(ContainerNaming.SpecHash);
        if (!ContainerNaming.IsDeploymentId(id))
            missing = "its deployment id";
        else if (string.IsNullOrWhiteSpace(owner) || owner.Length > 256 || owner.Any(char.IsControl))
            missing = "its owner";
        else if (string.IsNullOrEmpty(name) || name.Length > 63 || name.Any(c => !char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-'))
            missing = "its name";
        else if (string.IsNullOrWhiteSpace(image))
            missing = "its image";
        else if (string.IsNullOrEmpty(specHash))
            missing = "its spec hash";
        else if (!DateTimeOffset.TryParse(container.Label(ContainerNaming.CreatedAt), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var createdAt))
            missing = "when it was created";
        else if (!TryPositive(container, ContainerNaming.Port, out long port) || port > 65535)
            missing = "its container port";
        else if (!TryPositive(container, ContainerNaming.CpuMillicores, out long cpu) || cpu > int.MaxValue)
            missing = "its CPU share";
        else if (!TryPositive(container, ContainerNaming.MemoryBytes, out long memory))
            missing = "its memory limit";
        else
        {
            return new DeploymentRecord
            {
                Id = id!,
                Owner = owner,
                Spec = new DeploymentSpec
                {
                    Name = name, Image = image, ContainerPort = (int)port, CpuMillicores = (int)cpu, MemoryBytes = memory, Access = AccessFrom(container),
                    // Only the names (the mount paths are not needed to show or stop it): the volumes stay in use.
                    VolumeMounts = container.Label(ContainerNaming.Volumes) is { Length: > 0 } volumes
                        ? [.. volumes.Split(',').Where(VolumeMount.IsName).Select(n => new VolumeMount(n, "/"))]
                        : null,
                },
                // The label's, not a hash of this partial spec: the container still matches its record on the next pass.
                SpecHash = specHash,
                CreatedAt = createdAt,
                UpdatedAt = now,
                ContainerId = container.Id,
                Phase = RecordPhase.Active,
            };
        }
        return null;
    }

    /// <summary>
    /// The label's access mode, failing closed: a basic deployment's password hash is not in the labels, so it comes back
    /// private (its owner can still open it with a link); an unknown value is private too. No label: made before access
    /// rules existed, so public as it was.
    /// </summary>
    private static AccessMode AccessFrom(ContainerSummary container)
    {
        string? label = container.Label(ContainerNaming.Access);
        if (label is null)
            return AccessMode.Public;
        return AccessModes.TryParse(label, out var mode) && mode == AccessMode.Public ? AccessMode.Public : AccessMode.Private;
    }

    private static bool TryPositive(ContainerSummary container, string label, out long value)
        => long.TryParse(container.Label(label), NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
}

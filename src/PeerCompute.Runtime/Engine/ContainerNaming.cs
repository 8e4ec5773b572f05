namespace PeerCompute.Runtime.Engine;

/// <summary>Container names and the labels by which the runtime finds its own containers again.</summary>
internal static class ContainerNaming
{
    public const string Prefix = "io.peercompute.";
    public const string Managed = Prefix + "managed";
    public const string Instance = Prefix + "instance";
    public const string DeploymentId = Prefix + "deployment";
    public const string Owner = Prefix + "owner";
    public const string SpecHash = Prefix + "spec-hash";
    public const string CreatedAt = Prefix + "created-at";
    public const string Name = Prefix + "name";
    // What a minimal record needs besides the above, so a container whose record became unreadable can be adopted again.
    public const string Image = Prefix + "image";
    public const string Port = Prefix + "port";
    public const string CpuMillicores = Prefix + "cpu-millicores";
    public const string MemoryBytes = Prefix + "memory-bytes";
    /// <summary>The names of the owner's volumes it mounts, comma-separated; absent when none.</summary>
    public const string Volumes = Prefix + "volumes";
    /// <summary>public, private or basic; absent on containers made before access rules (they were public).</summary>
    public const string Access = Prefix + "access";
    /// <summary>On a service of an app, and on the app's network: the app's name.</summary>
    public const string App = Prefix + "app";

    public static string NameFor(string deploymentId) => "pc-" + deploymentId;

    /// <summary>Revision 1 keeps the name it always had; each update's container has its own, since both run side by side for a moment.</summary>
    public static string NameFor(string deploymentId, int revision)
        => revision <= 1 ? NameFor(deploymentId) : $"pc-{deploymentId}-r{revision.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    public static string NewDeploymentId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    public static bool IsDeploymentId(string? id)
    {
        if (id is not { Length: 16 })
            return false;
        foreach (char c in id)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
                return false;
        }
        return true;
    }
}

using PeerCompute.Core.Access;
using System.Globalization;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Network;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Engine;

/// <summary>
/// What one container must be, in the runtime's terms: the deployment's request plus the confinement the provider
/// applies to every container. Each engine turns it into its own create call and may not relax any of it.
/// </summary>
internal sealed record ContainerDefinition
{
    /// <summary>The engine-side container name.</summary>
    public required string Name { get; init; }
    public required string Hostname { get; init; }
    /// <summary>The image's local name (as <see cref="IContainerEngine.FindImageAsync"/> found it or <see cref="IContainerEngine.PullImageAsync"/> pulled it).</summary>
    public required string Image { get; init; }
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>Null keeps the image's own command.</summary>
    public IReadOnlyList<string>? Command { get; init; }
    /// <summary>Labels by which the runtime finds the container again (see <see cref="ContainerNaming"/>).</summary>
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    /// <summary>TCP port inside the container, published on 127.0.0.1 at a port the engine picks.</summary>
    public required int ContainerPort { get; init; }
    /// <summary>The network the container joins (and no other).</summary>
    public required string Network { get; init; }
    /// <summary>Other names the container is reached by on <see cref="Network"/> (an app's service name).</summary>
    public IReadOnlyList<string> NetworkAliases { get; init; } = [];
    /// <summary>Publish <see cref="ContainerPort"/> on 127.0.0.1; false for an app's private service.</summary>
    public bool PublishPort { get; init; } = true;

    public required int CpuMillicores { get; init; }
    /// <summary>Memory limit; swap is not allowed beyond it.</summary>
    public required long MemoryBytes { get; init; }
    public required long PidsLimit { get; init; }
    public required long NofileSoftLimit { get; init; }
    public required long NofileHardLimit { get; init; }
    /// <summary>Root filesystem read-only, with a size-limited tmpfs at /tmp either way.</summary>
    public required bool ReadOnlyRootFilesystem { get; init; }
    public required long TmpfsSizeBytes { get; init; }
    /// <summary>Size cap of the writable layer; null when the engine cannot enforce one (then only a read-only root, or an operator's explicit allowance, runs).</summary>
    public long? WritableLayerBytes { get; init; }
    public required string LogMaxSize { get; init; }
    public required int LogMaxFiles { get; init; }
    public required ContainerRestartPolicy RestartPolicy { get; init; }
    /// <summary>The provider checks the deployment's health itself: the image's own HEALTHCHECK is turned off (it would run beside it, inside the container).</summary>
    public bool DisableImageHealthcheck { get; init; }
    /// <summary>The deployment's volumes: host folders the runtime made and mounted (never the requester's paths), bound read-write.</summary>
    public IReadOnlyList<VolumeBind> Volumes { get; init; } = [];

    /// <param name="writableLayerBytes">The writable layer's cap, when the engine enforces one (see <see cref="EngineStorage.CapsWritableLayer"/>).</param>
    /// <param name="volumes">Where each of the deployment's volumes is mounted on the host, and at which path in the container.</param>
    public static ContainerDefinition For(DeploymentRecord record, ImageReference image, RuntimeOptions options, long? writableLayerBytes = null, IReadOnlyList<VolumeBind>? volumes = null)
    {
        var spec = record.Spec;
        var labels = new Dictionary<string, string>
        {
            [ContainerNaming.Managed] = "true",
            [ContainerNaming.Instance] = options.Instance,
            [ContainerNaming.DeploymentId] = record.Id,
            [ContainerNaming.Owner] = record.Owner,
            [ContainerNaming.SpecHash] = record.SpecHash,
            [ContainerNaming.CreatedAt] = record.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            [ContainerNaming.Name] = spec.Name,
            [ContainerNaming.Image] = spec.Image,
            [ContainerNaming.Port] = spec.ContainerPort.ToString(CultureInfo.InvariantCulture),
            [ContainerNaming.CpuMillicores] = spec.CpuMillicores.ToString(CultureInfo.InvariantCulture),
            [ContainerNaming.MemoryBytes] = spec.MemoryBytes.ToString(CultureInfo.InvariantCulture),
            [ContainerNaming.Access] = spec.Access.ToText(),
        };
        if (spec.App is not null)
            labels[ContainerNaming.App] = spec.App;
        var definition = new ContainerDefinition
        {
            Name = record.ContainerName,
            Hostname = spec.Name,
            Image = image.LocalName,
            Environment = spec.Environment,
            Command = spec.Command,
            Labels = labels,
            ContainerPort = spec.ContainerPort,
            Network = spec.App is null ? options.NetworkName : AppNetwork.NameFor(options.Instance, record.Owner, spec.App),
            NetworkAliases = spec.Service is null ? [] : [spec.Service],
            PublishPort = !spec.Private,
            CpuMillicores = spec.CpuMillicores,
            MemoryBytes = spec.MemoryBytes,
            PidsLimit = options.PidsLimit,
            NofileSoftLimit = options.NofileSoftLimit,
            NofileHardLimit = options.NofileHardLimit,
            ReadOnlyRootFilesystem = spec.ReadOnlyRootFilesystem,
            TmpfsSizeBytes = options.TmpfsSizeBytes,
            WritableLayerBytes = writableLayerBytes,
            LogMaxSize = options.LogMaxSize,
            LogMaxFiles = options.LogMaxFiles,
            RestartPolicy = spec.Restart switch
            {
                RestartMode.No => ContainerRestartPolicy.No,
                RestartMode.OnFailure => ContainerRestartPolicy.OnFailure,
                RestartMode.UnlessStopped => ContainerRestartPolicy.UnlessStopped,
                _ => options.RestartPolicy,
            },
            DisableImageHealthcheck = spec.Health is not null,
            Volumes = volumes ?? [],
        };
        // So a record rebuilt from the labels still holds its volumes in use.
        if (spec.VolumeMounts is { Count: > 0 } mounts)
            definition = definition with { Labels = new Dictionary<string, string>(definition.Labels) { [ContainerNaming.Volumes] = string.Join(',', mounts.Select(v => v.Name)) } };
        return definition;
    }
}

/// <summary>A runtime-made host folder bound at <paramref name="Target"/> in the container.</summary>
internal sealed record VolumeBind(string Source, string Target);

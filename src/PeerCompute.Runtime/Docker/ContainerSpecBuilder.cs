using System.Globalization;
using Docker.DotNet.Models;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Docker;

/// <summary>
/// Turns a <see cref="ContainerDefinition"/> into the engine's create call. Pure, so every confinement field can be
/// checked without an engine; the tests then confirm the engine kept them.
/// </summary>
internal static class ContainerSpecBuilder
{
    public const string LoopbackAddress = "127.0.0.1";
    public const string TmpfsPath = "/tmp";
    /// <summary>The storage option that caps a container's writable layer, in bytes.</summary>
    public const string StorageSizeOption = "size";

    public static CreateContainerParameters Build(DeploymentRecord record, ImageReference image, RuntimeOptions options)
        => Build(ContainerDefinition.For(record, image, options));

    public static CreateContainerParameters Build(ContainerDefinition spec)
    {
        string port = PortKey(spec.ContainerPort);
        return new CreateContainerParameters
        {
            Name = spec.Name,
            Hostname = spec.Hostname,
            Image = spec.Image,
            Env = spec.Environment.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value).ToList(),
            // Null keeps the image's own command.
            Cmd = spec.Command?.ToList()!,
            Labels = spec.Labels.ToDictionary(),
            ExposedPorts = new Dictionary<string, EmptyStruct> { [port] = default },
            // Null keeps the image's own HEALTHCHECK (the engine runs it; its result is read from inspect).
            Healthcheck = spec.DisableImageHealthcheck ? new HealthcheckConfig { Test = ["NONE"] } : null!,
            AttachStdin = false,
            AttachStdout = false,
            AttachStderr = false,
            Tty = false,
            OpenStdin = false,
            NetworkingConfig = spec.NetworkAliases.Count == 0 ? null! : new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [spec.Network] = new EndpointSettings { Aliases = [.. spec.NetworkAliases] } },
            },
            HostConfig = new HostConfig
            {
                Privileged = false,
                Binds = [],
                // Only the runtime's own volume folders (see LoopVolumes): the filesystem is mounted nosuid,nodev on the
                // host, and CapDrop ALL with no-new-privileges leave nothing setuid or a device node could grant anyway.
                Mounts = [.. spec.Volumes.Select(v => new Mount
                {
                    Type = "bind",
                    Source = v.Source,
                    Target = v.Target,
                    ReadOnly = false,
                    BindOptions = new BindOptions { Propagation = "rprivate" },
                })],
                Devices = [],
                VolumesFrom = [],
                CapDrop = ["ALL"],
                CapAdd = [],
                // The engine's default seccomp profile applies because none is named here.
                SecurityOpt = ["no-new-privileges"],
                NetworkMode = spec.Network,
                PidMode = "",
                IpcMode = "private",
                UTSMode = "",
                UsernsMode = "",
                CgroupnsMode = "private",
                NanoCPUs = spec.CpuMillicores * 1_000_000L,
                Memory = spec.MemoryBytes,
                MemorySwap = spec.MemoryBytes,
                PidsLimit = spec.PidsLimit,
                Ulimits = [new Ulimit { Name = "nofile", Soft = spec.NofileSoftLimit, Hard = spec.NofileHardLimit }],
                ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
                // Enforced by the storage driver (overlay2 on xfs with pquota, btrfs, zfs); an engine that cannot refuses the create.
                StorageOpt = spec.WritableLayerBytes is { } cap
                    ? new Dictionary<string, string> { [StorageSizeOption] = cap.ToString(CultureInfo.InvariantCulture) }
                    : null!,
                Tmpfs = new Dictionary<string, string>
                {
                    [TmpfsPath] = string.Create(CultureInfo.InvariantCulture, $"rw,nosuid,nodev,size={spec.TmpfsSizeBytes}"),
                },
                PortBindings = spec.PublishPort
                    ? new Dictionary<string, IList<PortBinding>>
                    {
                        // Empty host port: the engine picks a free one.
                        [port] = [new PortBinding { HostIP = LoopbackAddress, HostPort = "" }],
                    }
                    : new Dictionary<string, IList<PortBinding>>(),
                PublishAllPorts = false,
                LogConfig = new LogConfig
                {
                    Type = "json-file",
                    Config = new Dictionary<string, string>
                    {
                        ["max-size"] = spec.LogMaxSize,
                        ["max-file"] = spec.LogMaxFiles.ToString(CultureInfo.InvariantCulture),
                    },
                },
                Init = true,
                RestartPolicy = new RestartPolicy
                {
                    Name = spec.RestartPolicy switch
                    {
                        ContainerRestartPolicy.UnlessStopped => RestartPolicyKind.UnlessStopped,
                        ContainerRestartPolicy.OnFailure => RestartPolicyKind.OnFailure,
                        _ => RestartPolicyKind.No,
                    },
                },
            },
        };
    }

    public static string PortKey(int containerPort) => containerPort.ToString(CultureInfo.InvariantCulture) + "/tcp";
}

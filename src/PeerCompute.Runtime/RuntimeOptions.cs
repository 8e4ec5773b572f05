using PeerCompute.Core.Storage;
using PeerCompute.Runtime.Firewall;

namespace PeerCompute.Runtime;

/// <summary>Every limit and knob of the provider-side runtime, with the defaults the README documents.</summary>
public sealed record RuntimeOptions
{
    public const long MiB = 1024L * 1024;
    public const long GiB = 1024L * MiB;

    /// <summary>Docker endpoint; null means <c>DOCKER_HOST</c>, else <c>unix:///var/run/docker.sock</c>.</summary>
    public string? DockerEndpoint { get; init; }

    /// <summary>Folder for deployment records; null means <c>$PEERCOMPUTE_HOME/provider</c>.</summary>
    public string? StateFolder { get; init; }

    /// <summary>Label value that scopes containers to this runtime, so two providers (or test runs) on one engine never adopt each other's.</summary>
    public string Instance { get; init; } = "default";

    // Provider caps (admission control).
    public int MaxCpuMillicores { get; init; } = 4000;
    public long MaxMemoryBytes { get; init; } = 4 * GiB;
    public int MaxDeploys { get; init; } = 10;
    /// <summary>Sum of the sizes of all volumes (each volume holds its full size from creation until removed).</summary>
    public long MaxStorageBytes { get; init; } = 10 * GiB;

    // Per-request sanity bounds: below these a container cannot run at all.
    public int MinCpuMillicores { get; init; } = 10;
    /// <summary>Docker refuses memory limits under 6 MiB.</summary>
    public long MinMemoryBytes { get; init; } = 6 * MiB;

    // Per-container confinement.
    public long PidsLimit { get; init; } = 256;
    public long NofileSoftLimit { get; init; } = 1024;
    public long NofileHardLimit { get; init; } = 4096;
    public long TmpfsSizeBytes { get; init; } = 64 * MiB;
    /// <summary>
    /// Size cap of a container's writable layer (Docker's <c>--storage-opt size=</c>), applied whenever the engine can
    /// enforce it (<see cref="EngineStorage.CapsWritableLayer"/>). A <c>--writable</c> root writes there.
    /// </summary>
    public long MaxWritableBytes { get; init; } = 1 * GiB;
    /// <summary>
    /// Deploy writable roots although the engine cannot cap them (overlay2 on ext4): a deployment can then fill the
    /// engine's disk. Off by default: such deploys are refused with <see cref="RuntimeErrorCode.WritableUnbounded"/>.
    /// </summary>
    public bool AllowUnboundedWritable { get; init; }
    /// <summary>Largest image (its unpacked size, as the engine reports it) a deployment may run; a bigger one is refused and, if this deploy pulled it, removed.</summary>
    public long MaxImageBytes { get; init; } = 8 * GiB;
    public string LogMaxSize { get; init; } = "10m";
    public int LogMaxFiles { get; init; } = 3;
    /// <summary>Restart policy of deployments; unless-stopped keeps them running across engine restarts.</summary>
    internal ContainerRestartPolicy RestartPolicy { get; init; } = ContainerRestartPolicy.UnlessStopped;

    /// <summary>The project's own bridge network (inter-container communication off). At most 15 characters so it can name the bridge.</summary>
    public string NetworkName { get; init; } = "peercompute0";

    /// <summary>
    /// Egress filtering of the network (see <see cref="EgressOptions"/>). Null: the runtime manages no firewall
    /// (an embedder's or a test's choice); the provider daemon always sets it. When set and not open, a deploy
    /// is refused while the rules cannot be installed.
    /// </summary>
    public EgressOptions? Egress { get; init; }

    /// <summary>
    /// Registries (<c>host</c> or <c>host:port</c>, as written in image references; a host alone allows every port) the
    /// engine may pull from although they are, or resolve to, a blocked address. Every other registry on a blocked
    /// range (the egress firewall's list, and the host's own addresses) is refused before the engine is asked.
    /// </summary>
    public IReadOnlyList<string> AllowedRegistries { get; init; } = [];

    // Volumes.
    /// <summary>Size of a volume asked for without one (<c>NAME:/path</c>).</summary>
    public long DefaultVolumeBytes { get; init; } = 1 * GiB;
    /// <summary>The smallest volume: below this, ext4's own metadata takes most of it.</summary>
    public long MinVolumeBytes { get; init; } = 16 * MiB;
    /// <summary>Where volume files and their mount points live; null means <c>volumes</c> in the state folder.</summary>
    public string? VolumesFolder { get; init; }
    /// <summary>The loop control device volumes need; when it is absent, a deploy with volumes is refused (<see cref="RuntimeErrorCode.VolumesUnavailable"/>).</summary>
    public string LoopControlPath { get; init; } = "/dev/loop-control";
    public int MaxVolumesPerDeployment { get; init; } = 8;

    // Spec bounds.
    public int MaxEnvironmentVariables { get; init; } = 128;
    public int MaxEnvironmentBytes { get; init; } = 32 * 1024;
    public int MaxCommandArguments { get; init; } = 64;
    public int MaxCommandBytes { get; init; } = 16 * 1024;

    // Timing.
    /// <summary>Grace given to a stopping container between SIGTERM and SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a labelled container without a record is left alone before reconcile removes it.</summary>
    public TimeSpan OrphanGracePeriod { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan StateLockTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The provider's first wait before it starts a container that exited and that its restart policy restarts (see <see cref="Restarts.RestartSupervisor"/>); it doubles after each short run.</summary>
    public TimeSpan RestartBackoffInitial { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>The cap of that wait (<c>--restart-backoff-max</c>): a crash loop starts at most once per this period.</summary>
    public TimeSpan RestartBackoffMax { get; init; } = DefaultRestartBackoffMax;
    public static readonly TimeSpan DefaultRestartBackoffMax = TimeSpan.FromMinutes(5);
    /// <summary>A run at least this long ends a crash loop: the next exit waits <see cref="RestartBackoffInitial"/> again.</summary>
    public TimeSpan RestartResetAfter { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Revisions kept in a deployment's record (for <c>history</c> and <c>rollback</c>); the oldest are forgotten first.</summary>
    public int RevisionHistory { get; init; } = 10;

    /// <summary>
    /// Bytes of a replaced (or failed update's) container's log kept per deployment before the container is removed,
    /// for <c>logs --previous</c>; its last lines are kept. 0 keeps none.
    /// </summary>
    public long PreviousLogsBytes { get; init; } = 4 * MiB;

    /// <summary>
    /// During an update, after the route moved to the new container: how long the old one may take to finish the
    /// connections it still serves before it is stopped (then with <see cref="StopTimeout"/>).
    /// </summary>
    public TimeSpan UpdateDrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Log lines shown in the status of a container that is not running, so an early exit explains itself.</summary>
    public int StatusLogLines { get; init; } = 20;

    internal string ResolveStateFolder() => StateFolder ?? PeerComputeHome.Resolve().ProviderStateFolder;

    internal string ResolveVolumesFolder() => Path.GetFullPath(VolumesFolder ?? Path.Combine(ResolveStateFolder(), "volumes"));

    internal Uri ResolveDockerEndpoint()
    {
        string? raw = DockerEndpoint;
        if (string.IsNullOrWhiteSpace(raw))
            raw = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (string.IsNullOrWhiteSpace(raw))
            raw = "unix:///var/run/docker.sock";
        return new Uri(raw);
    }
}

/// <summary>What the engine does when a deployment's process exits.</summary>
internal enum ContainerRestartPolicy
{
    /// <summary>Restart on every exit and after an engine restart, until the owner stops it.</summary>
    UnlessStopped,
    /// <summary>Restart only on a non-zero exit.</summary>
    OnFailure,
    /// <summary>Never restart.</summary>
    No,
}

using System.Runtime.CompilerServices;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Tests.Fakes;

/// <summary>
/// A container engine in memory: containers, networks and images are dictionary entries, a started container gets
/// the next loopback port. It proves the engine seam (the runtime runs over it unchanged) and lets the lifecycle,
/// reconcile and status logic be tested in milliseconds. Tests reach in to play the world: a container exits, is
/// removed behind the runtime's back, or an operation fails.
/// </summary>
internal sealed class InMemoryEngine(TimeProvider? time = null) : IContainerEngine
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NetworkFacts> _networks = new(StringComparer.Ordinal);
    private readonly List<string> _calls = [];
    private int _nextPort = 40000;
    private int _nextId;

    public Uri Endpoint { get; } = new("memory://engine");

    /// <summary>Local image names the engine holds; anything else is "not found".</summary>
    public HashSet<string> Images { get; } = new(StringComparer.Ordinal) { "app:1" };

    /// <summary>When set, the next start fails with it (once).</summary>
    public RuntimeException? FailNextStart { get; set; }

    public int Disposals { get; private set; }

    /// <summary>Every mutating call, as "verb id", in order.</summary>
    public IReadOnlyList<string> Calls
    {
        get { lock (_lock) return [.. _calls]; }
    }

    public IReadOnlyCollection<string> ContainerIds
    {
        get { lock (_lock) return [.. _containers.Keys]; }
    }

    public Task<NetworkFacts?> FindNetworkAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(_networks.GetValueOrDefault(name));
    }

    public Task CreateNetworkAsync(NetworkDefinition network, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_networks.TryAdd(network.Name, new NetworkFacts(network.Name, IsBridge: true, InterContainerTrafficOff: !network.InterContainer)))
                throw new RuntimeException(RuntimeErrorCode.DockerError, $"creating network {network.Name}: it already exists");
            _calls.Add("create-network " + network.Name);
        }
        return Task.CompletedTask;
    }

    /// <summary>What the runtime asked the container to be.</summary>
    public ContainerDefinition DefinitionOf(string containerId)
    {
        lock (_lock)
            return _containers[containerId].Definition;
    }

    public Task RemoveNetworkAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_networks.Remove(name))
                _calls.Add("remove-network " + name);
        }
        return Task.CompletedTask;
    }

    /// <summary>A network made by someone else, e.g. one that lets containers talk to each other.</summary>
    public void AddNetwork(NetworkFacts network)
    {
        lock (_lock)
            _networks[network.Name] = network;
    }

    public Task<string?> FindImageAsync(ImageReference image, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult(Images.Contains(image.LocalName) ? "sha256:" + image.LocalName : null);
    }

    public Task<IReadOnlySet<string>> ListImageIdsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlySet<string>>(Images.Select(i => "sha256:" + i).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>The in-memory engine has no registry: it knows nothing of an image's access.</summary>
    public Task CheckImageAccessAsync(ImageReference image, RegistryCredentials? credentials, CancellationToken cancellationToken)
        => Task.FromException(new RuntimeException(RuntimeErrorCode.ImageNotFound, $"image {image}: the in-memory engine has no registry"));

    /// <summary>The in-memory engine has no registry: a pull finds nothing.</summary>
    public Task<string> PullImageAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
        => Task.FromException<string>(new RuntimeException(RuntimeErrorCode.ImageNotFound, $"image {image}: not held by the in-memory engine"));

    /// <summary>What <see cref="ProbeStorageAsync"/> answers: by default an engine that caps writable layers.</summary>
    public EngineStorage Storage { get; set; } = new("memory", null, CapsWritableLayer: true, CapProblem: null, UserNamespaceRemap: false);

    /// <summary>Declared ports per local image name (none: the image declares none).</summary>
    public Dictionary<string, int[]> ExposedPorts { get; } = new(StringComparer.Ordinal);

    public Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            string name = Images.Contains(image) ? image : image.StartsWith("sha256:", StringComparison.Ordinal) && Images.Contains(image["sha256:".Length..]) ? image["sha256:".Length..] : "";
            return Task.FromResult(name.Length == 0 ? null : new ImageFacts(1 * RuntimeOptions.MiB, ExposedPorts.GetValueOrDefault(name) ?? []));
        }
    }

    public Task RemoveImageAsync(string image, CancellationToken cancellationToken)
    {
        lock (_lock)
            Images.Remove(image);
        return Task.CompletedTask;
    }

    public Task<EngineStorage> ProbeStorageAsync(long writableBytes, CancellationToken cancellationToken) => Task.FromResult(Storage);

    public Task<string> CreateContainerAsync(ContainerDefinition definition, string doing, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_containers.Values.Any(c => c.Definition.Name == definition.Name))
                throw new RuntimeException(RuntimeErrorCode.DockerError, $"{doing}: the name {definition.Name} is in use");
            string id = (++_nextId).ToString("x64", System.Globalization.CultureInfo.InvariantCulture);
            _containers[id] = new Container(id, definition, _time.GetUtcNow());
            _calls.Add("create " + id);
            return Task.FromResult(id);
        }
    }

    public Task StartContainerAsync(string containerId, string doing, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (FailNextStart is { } failure)
            {
                FailNextStart = null;
                throw failure;
            }
            var container = Get(containerId, doing);
            container.State = ContainerState.Running;
            container.StartedAt = _time.GetUtcNow();
            container.HostPort = container.Definition.PublishPort ? _nextPort++ : null;
            _calls.Add("start " + containerId);
        }
        return Task.CompletedTask;
    }

    public Task StopContainerAsync(string containerId, TimeSpan timeout, string doing, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var container = Get(containerId, doing);
            if (container.State == ContainerState.Running)
                Exit(container, 143);
            _calls.Add("stop " + containerId);
        }
        return Task.CompletedTask;
    }

    public Task RemoveContainerAsync(string containerId, bool removeVolumes, string doing, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Get(containerId, doing);
            _containers.Remove(containerId);
            _calls.Add("remove " + containerId);
        }
        return Task.CompletedTask;
    }

    public Task<ContainerFacts?> InspectContainerAsync(string containerId, string doing, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_containers.TryGetValue(containerId, out var c))
                return Task.FromResult<ContainerFacts?>(null);
            return Task.FromResult<ContainerFacts?>(new ContainerFacts
            {
                Id = c.Id,
                Running = c.State == ContainerState.Running,
                Restarting = c.State == ContainerState.Restarting,
                ExitCode = c.ExitCode,
                OomKilled = c.OomKilled,
                StartedAt = c.StartedAt,
                RestartCount = c.RestartCount,
                LoopbackPorts = Published(c),
            });
        }
    }

    public Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(string instance, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<ContainerSummary> list = [.. _containers.Values
                .Where(c => c.Definition.Labels.GetValueOrDefault(ContainerNaming.Managed) == "true"
                    && c.Definition.Labels.GetValueOrDefault(ContainerNaming.Instance) == instance)
                .Select(c => new ContainerSummary { Id = c.Id, State = c.State, CreatedAt = c.CreatedAt, Labels = c.Definition.Labels, LoopbackPorts = Published(c) })];
            return Task.FromResult(list);
        }
    }

    public Task<ResourceUsage?> ReadUsageAsync(string containerId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ResourceUsage? usage = _containers.TryGetValue(containerId, out var c) && c.State == ContainerState.Running
                ? new ResourceUsage(12.5, TimeSpan.FromSeconds(1), c.Definition.MemoryBytes / 4, c.Definition.MemoryBytes, 1)
                : null;
            return Task.FromResult(usage);
        }
    }

    public async IAsyncEnumerable<ContainerLogLine> ReadLogsAsync(string containerId, LogOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ContainerLogLine[] lines;
        lock (_lock)
        {
            var container = Get(containerId, "reading the container log");
            var wanted = container.Log.Where(l => (l.Stream == LogStream.Stdout ? options.Stdout : options.Stderr) && (options.Since is not { } since || l.Timestamp >= since));
            lines = [.. options.Tail is { } tail ? wanted.TakeLast(Math.Max(0, tail)) : wanted];
        }
        foreach (var line in lines)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return line;
        }
    }

    public void Dispose() => Disposals++;

    // The world outside the runtime.

    /// <summary>The container's process writes a line.</summary>
    public void Write(string containerId, string text, LogStream stream = LogStream.Stdout)
    {
        lock (_lock)
            Get(containerId, "writing").Log.Add(new ContainerLogLine(stream, _time.GetUtcNow(), text));
    }

    /// <summary>The process exits by itself (and is not restarted).</summary>
    public void ExitProcess(string containerId, long exitCode, bool oomKilled = false)
    {
        lock (_lock)
        {
            var container = Get(containerId, "exiting");
            Exit(container, exitCode);
            container.OomKilled = oomKilled;
        }
    }

    /// <summary>The engine restarts the process under its restart policy; it gets a new loopback port.</summary>
    public void Restart(string containerId)
    {
        lock (_lock)
        {
            var container = Get(containerId, "restarting");
            container.State = ContainerState.Running;
            container.RestartCount++;
            container.StartedAt = _time.GetUtcNow();
            container.HostPort = container.Definition.PublishPort ? _nextPort++ : null;
        }
    }

    /// <summary>Someone ran <c>docker rm -f</c>.</summary>
    public void RemoveBehindTheRuntimesBack(string containerId)
    {
        lock (_lock)
            _containers.Remove(containerId);
    }

    private Container Get(string containerId, string doing)
        => _containers.TryGetValue(containerId, out var container)
            ? container
            : throw new RuntimeException(RuntimeErrorCode.NotFound, $"{doing}: no such container: {containerId}");

    private static void Exit(Container container, long exitCode)
    {
        container.State = ContainerState.Exited;
        container.ExitCode = exitCode;
        container.HostPort = null;
    }

    private static Dictionary<int, int> Published(Container c)
        => c.HostPort is { } port ? new Dictionary<int, int> { [c.Definition.ContainerPort] = port } : [];

    private sealed class Container(string id, ContainerDefinition definition, DateTimeOffset createdAt)
    {
        public string Id { get; } = id;
        public ContainerDefinition Definition { get; } = definition;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public ContainerState State { get; set; } = ContainerState.Created;
        public DateTimeOffset? StartedAt { get; set; }
        public int? HostPort { get; set; }
        public long ExitCode { get; set; }
        public bool OomKilled { get; set; }
        public long RestartCount { get; set; }
        public List<ContainerLogLine> Log { get; } = [];
    }
}

using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime.Docker;

/// <summary>The Docker engine behind <see cref="IContainerEngine"/>, over its HTTP API (Docker.DotNet).</summary>
internal sealed class DockerEngine : IContainerEngine
{
    private const string BridgeNameOption = "com.docker.network.bridge.name";
    private const string IccOption = "com.docker.network.bridge.enable_icc";

    private readonly DockerClient _docker;
    private readonly DockerErrorTranslator _errors;
    private readonly ImagePuller _images;

    public DockerEngine(Uri endpoint, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        Endpoint = endpoint;
        _docker = new DockerClientBuilder().WithEndpoint(endpoint).Build();
        _errors = new DockerErrorTranslator(endpoint);
        _images = new ImagePuller(_docker, endpoint, _errors, logger, inspect => Remember(inspect));
    }

    // An image id names its content (the digest of its config), so what inspect said about it never changes: the
    // deploy's look-up already inspected the image, and its size and ports need no second call.
    private const int RememberedImages = 256;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ImageFacts> _imageFacts = new(StringComparer.Ordinal);

    public Uri Endpoint { get; }

    public async Task<NetworkFacts?> FindNetworkAsync(string name, CancellationToken cancellationToken)
    {
        var networks = await _errors.RunAsync("listing networks", () => _docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } },
        }, cancellationToken), cancellationToken).ConfigureAwait(false);
        // The name filter matches substrings.
        var network = networks.FirstOrDefault(n => n.Name == name);
        if (network is null)
            return null;
        bool iccOff = network.Options is not null && network.Options.TryGetValue(IccOption, out string? icc) && icc == "false";
        return new NetworkFacts(network.Name, network.Driver == "bridge", iccOff);
    }

    public Task CreateNetworkAsync(NetworkDefinition network, CancellationToken cancellationToken)
        => _errors.RunAsync($"creating network {network.Name}", () => _docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = network.Name,
            Driver = "bridge",
            Attachable = false,
            Options = new Dictionary<string, string>
            {
                [BridgeNameOption] = network.Name,
                [IccOption] = network.InterContainer ? "true" : "false",
            },
            Labels = network.Labels.ToDictionary(),
        }, cancellationToken), cancellationToken);

    public async Task RemoveNetworkAsync(string name, CancellationToken cancellationToken)
    {
        if (await FindNetworkAsync(name, cancellationToken).ConfigureAwait(false) is null)
            return;
        await _errors.RunAsync($"removing network {name}", () => _docker.Networks.DeleteNetworkAsync(name, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    public Task<string?> FindImageAsync(ImageReference image, CancellationToken cancellationToken)
        => _images.FindAsync(image, cancellationToken);

    public async Task<IReadOnlySet<string>> ListImageIdsAsync(CancellationToken cancellationToken)
    {
        var images = await _errors.RunAsync("listing images", () => _docker.Images.ListImagesAsync(new ImagesListParameters { All = true }, cancellationToken), cancellationToken).ConfigureAwait(false);
        return images.Select(i => i.ID).ToHashSet(StringComparer.Ordinal);
    }

    public Task CheckImageAccessAsync(ImageReference image, RegistryCredentials? credentials, CancellationToken cancellationToken)
        => _images.CheckAccessAsync(image, credentials, cancellationToken);

    public Task<string> PullImageAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
        => _images.PullAsync(image, credentials, progress, cancellationToken);

    public async Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        if (_imageFacts.TryGetValue(image, out var known))
            return known;
        try
        {
            var inspect = await _errors.RunAsync($"looking up image {image}", () => _docker.Images.InspectImageAsync(image, cancellationToken), cancellationToken).ConfigureAwait(false);
            return Remember(inspect);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
    }

    private ImageFacts Remember(ImageInspectResponse inspect)
    {
        var facts = new ImageFacts(inspect.Size, [.. TcpPorts(inspect.Config?.ExposedPorts?.Keys).Order()]);
        if (!string.IsNullOrEmpty(inspect.ID))
        {
            if (_imageFacts.Count >= RememberedImages)
                _imageFacts.Clear();
            _imageFacts[inspect.ID] = facts;
        }
        return facts;
    }

    public Task RemoveImageAsync(string image, CancellationToken cancellationToken)
        => _errors.RunAsync($"removing image {image}", () => _docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = false }, cancellationToken), cancellationToken);

    public Task<EngineStorage> ProbeStorageAsync(long writableBytes, CancellationToken cancellationToken)
        => StorageProbe.RunAsync(_docker, _errors, writableBytes, cancellationToken);

    public async Task<string> CreateContainerAsync(ContainerDefinition spec, string doing, CancellationToken cancellationToken)
    {
        var parameters = ContainerSpecBuilder.Build(spec);
        var created = await _errors.RunAsync(doing, () => _docker.Containers.CreateContainerAsync(parameters, cancellationToken), cancellationToken).ConfigureAwait(false);
        return created.ID;
    }

    public Task StartContainerAsync(string containerId, string doing, CancellationToken cancellationToken)
        => _errors.RunAsync(doing, () => _docker.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken), cancellationToken);

    public Task StopContainerAsync(string containerId, TimeSpan timeout, string doing, CancellationToken cancellationToken)
    {
        uint seconds = (uint)Math.Max(0, Math.Ceiling(timeout.TotalSeconds));
        return _errors.RunAsync(doing, () => _docker.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, cancellationToken), cancellationToken);
    }

    public Task RemoveContainerAsync(string containerId, bool removeVolumes, string doing, CancellationToken cancellationToken)
        => _errors.RunAsync(doing, () => _docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = removeVolumes }, cancellationToken), cancellationToken);

    public async Task<ContainerFacts?> InspectContainerAsync(string containerId, string doing, CancellationToken cancellationToken)
    {
        ContainerInspectResponse inspect;
        try
        {
            inspect = await _errors.RunAsync(doing, () => _docker.Containers.InspectContainerAsync(containerId, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
        if (inspect.State is not { } state)
            return null;
        return new ContainerFacts
        {
            Id = inspect.ID,
            Running = state.Running,
            Restarting = state.Restarting,
            ExitCode = state.ExitCode,
            OomKilled = state.OOMKilled,
            Error = state.Error,
            StartedAt = ParseEngineTime(state.StartedAt),
            RestartCount = inspect.RestartCount,
            LoopbackPorts = LoopbackPorts(inspect.NetworkSettings?.Ports),
            Address = state.Running ? BridgeAddress(inspect.NetworkSettings?.Networks) : null,
            Pid = state.Running && state.Pid > 0 ? (int)state.Pid : null,
            FinishedAt = ParseEngineTime(state.FinishedAt),
            Health = state.Health is { Status: { Length: > 0 } healthStatus and not "none" } health ? HealthOf(healthStatus, health.Log) : null,
        };
    }

    private static EngineHealth HealthOf(string status, IList<HealthcheckResult>? log)
    {
        var failed = log?.LastOrDefault(r => r.ExitCode != 0);
        string? output = failed?.Output?.Trim();
        if (output is { Length: > 200 })
            output = output[..200] + "…";
        return new EngineHealth(status, failed is null || failed.End == default ? null : new DateTimeOffset(DateTime.SpecifyKind(failed.End, DateTimeKind.Utc)),
            failed is null ? null : string.IsNullOrEmpty(output) ? $"the image's HEALTHCHECK exited with {failed.ExitCode}" : $"the image's HEALTHCHECK exited with {failed.ExitCode}: {output}");
    }

    public async IAsyncEnumerable<ContainerExit> WatchExitsAsync(string instance, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var exits = System.Threading.Channels.Channel.CreateUnbounded<ContainerExit>(new() { SingleReader = true });
        var parameters = new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["event"] = new Dictionary<string, bool> { ["die"] = true },
                ["label"] = new Dictionary<string, bool> { [$"{ContainerNaming.Managed}=true"] = true, [$"{ContainerNaming.Instance}={instance}"] = true },
            },
        };
        var sink = new Progress(message =>
        {
            if (message.Actor is not { ID: { } id } actor)
                return;
            IDictionary<string, string> attributes = actor.Attributes ?? new Dictionary<string, string>();
            long code = attributes.TryGetValue("exitCode", out string? text) && long.TryParse(text, CultureInfo.InvariantCulture, out long parsed) ? parsed : -1;
            var time = message.TimeNano is > 0 and { } nanos ? DateTimeOffset.UnixEpoch.AddTicks(nanos / 100) : DateTimeOffset.UtcNow;
            exits.Writer.TryWrite(new ContainerExit(id, attributes.TryGetValue(ContainerNaming.DeploymentId, out string? deployment) ? deployment : null, code, time));
        });
        var watch = _errors.RunAsync("watching container exits", () => _docker.System.MonitorEventsAsync(parameters, sink, cancellationToken), cancellationToken)
            .ContinueWith(t => exits.Writer.TryComplete(t.Exception?.InnerException), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await foreach (var exit in exits.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            yield return exit;
        await watch.ConfigureAwait(false);
    }

    private sealed class Progress(Action<Message> report) : IProgress<Message>
    {
        public void Report(Message value) => report(value);
    }

    public async Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(string instance, CancellationToken cancellationToken)
    {
        var containers = await _errors.RunAsync("listing the runtime's containers", () => _docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ContainerNaming.Managed}=true"] = true, [$"{ContainerNaming.Instance}={instance}"] = true },
            },
        }, cancellationToken), cancellationToken).ConfigureAwait(false);
        return [.. containers.Select(c => new ContainerSummary
        {
            Id = c.ID,
            State = StateOf(c.State),
            CreatedAt = c.Created == default ? null : new DateTimeOffset(DateTime.SpecifyKind(c.Created, DateTimeKind.Utc)),
            Labels = c.Labels is { } labels ? labels.ToDictionary() : new Dictionary<string, string>(),
            LoopbackPorts = LoopbackPorts(c.Ports),
            Address = c.State == "running" ? BridgeAddress(c.NetworkSettings?.Networks) : null,
        })];
    }

    public async Task<ResourceUsage?> ReadUsageAsync(string containerId, CancellationToken cancellationToken)
    {
        var sample = new LastValue<ContainerStatsResponse>();
        try
        {
            await _errors.RunAsync("reading container stats", () => _docker.Containers.GetContainerStatsAsync(containerId,
                new ContainerStatsParameters { Stream = false }, sample, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
        return sample.Value is null ? null : UsageCalculator.From(sample.Value);
    }

    public IAsyncEnumerable<ContainerLogLine> ReadLogsAsync(string containerId, LogOptions options, CancellationToken cancellationToken)
        => ContainerLogReader.ReadAsync(_docker, _errors, containerId, options, cancellationToken);

    public void Dispose() => _docker.Dispose();

    private static ContainerState StateOf(string? state) => state switch
    {
        "created" => ContainerState.Created,
        "running" => ContainerState.Running,
        "paused" => ContainerState.Paused,
        "restarting" => ContainerState.Restarting,
        "removing" => ContainerState.Removing,
        "exited" => ContainerState.Exited,
        "dead" => ContainerState.Dead,
        _ => ContainerState.Unknown,
    };

    /// <summary>"8080/tcp" keys (an image's EXPOSE list) → their TCP port numbers.</summary>
    private static IEnumerable<int> TcpPorts(IEnumerable<string>? keys)
    {
        foreach (string key in keys ?? [])
        {
            if (key.EndsWith("/tcp", StringComparison.Ordinal)
                && int.TryParse(key.AsSpan(0, key.Length - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535)
                yield return port;
        }
    }

    /// <summary>The container's IPv4 address on its (one) network.</summary>
    private static System.Net.IPAddress? BridgeAddress(IDictionary<string, EndpointSettings>? networks)
    {
        foreach (var endpoint in networks?.Values ?? [])
        {
            if (System.Net.IPAddress.TryParse(endpoint?.IPAddress, out var address))
                return address;
        }
        return null;
    }

    /// <summary>From inspect's port map ("8080/tcp" → bindings): the first binding on 127.0.0.1 per TCP port.</summary>
    private static Dictionary<int, int> LoopbackPorts(IDictionary<string, IList<PortBinding>>? ports)
    {
        var result = new Dictionary<int, int>();
        foreach (var (key, bindings) in ports ?? new Dictionary<string, IList<PortBinding>>())
        {
            if (bindings is null || !key.EndsWith("/tcp", StringComparison.Ordinal)
                || !int.TryParse(key.AsSpan(0, key.Length - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int containerPort))
                continue;
            foreach (var binding in bindings)
            {
                if (binding.HostIP == ContainerSpecBuilder.LoopbackAddress && int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out int hostPort))
                {
                    result.TryAdd(containerPort, hostPort);
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>From the listing's port entries: the first one published on 127.0.0.1 per TCP port.</summary>
    private static Dictionary<int, int> LoopbackPorts(IList<PortSummary>? ports)
    {
        var result = new Dictionary<int, int>();
        foreach (var port in ports ?? [])
        {
            if (port.Type == "tcp" && port.IP == ContainerSpecBuilder.LoopbackAddress && port.PublicPort is { } published and not 0)
                result.TryAdd(port.PrivatePort, published);
        }
        return result;
    }

    private static DateTimeOffset? ParseEngineTime(string? text)
    {
        // The engine reports "0001-01-01T00:00:00Z" for never.
        if (string.IsNullOrEmpty(text) || !LogLineParser.TryParseTimestamp(text, out var value) || value.Year <= 1)
            return null;
        return value;
    }

    /// <summary>Synchronous progress sink (Progress&lt;T&gt; posts callbacks later, after the call returned).</summary>
    private sealed class LastValue<T> : IProgress<T>
    {
        public T? Value { get; private set; }
        public void Report(T value) => Value = value;
    }
}

using PeerCompute.Runtime.Deployments;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// A runtime of its own for one test: a fresh state folder and a unique instance label, so tests
/// running side by side never see each other's containers. Disposing removes its containers.
/// </summary>
internal sealed class RuntimeHarness : IAsyncDisposable
{
    private readonly List<ContainerRuntime> _runtimes = [];

    private readonly PrivateDockerd? _engine;

    private RuntimeHarness(RuntimeOptions options, PrivateDockerd? engine)
    {
        Options = options;
        _engine = engine;
    }

    public RuntimeOptions Options { get; }

    /// <summary>What every runtime of the harness logs to (none when null).</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }
    public ContainerRuntime Runtime => _runtimes[^1];
    public string StateFolder => Options.StateFolder!;

    public static async Task<RuntimeHarness> StartAsync(Func<RuntimeOptions, RuntimeOptions>? configure = null, TimeProvider? time = null, PrivateDockerd? engine = null,
        Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        await TestEngine.EnsureReadyAsync();
        string instance = TestEngine.InstancePrefix + Guid.NewGuid().ToString("N")[..10];
        var options = new RuntimeOptions
        {
            Instance = instance,
            StateFolder = Path.Combine(Path.GetTempPath(), "pc-runtime-tests", instance),
            NetworkName = TestEngine.NetworkName,
            StopTimeout = TimeSpan.FromSeconds(2),
        };
        if (engine is not null)
            options = options with { DockerEndpoint = engine.Endpoint, NetworkName = engine.NetworkName };
        if (configure is not null)
            options = configure(options);
        var harness = new RuntimeHarness(options, engine) { Logger = logger };
        await harness.OpenRuntimeAsync(time);
        return harness;
    }

    /// <summary>Another runtime object over the same state and instance, as a restarted provider would open.</summary>
    public async Task<ContainerRuntime> OpenRuntimeAsync(TimeProvider? time = null, bool start = true)
    {
        var runtime = new ContainerRuntime(Options, Logger, time);
        _runtimes.Add(runtime);
        if (start)
            await runtime.StartAsync();
        return runtime;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var runtime in _runtimes)
            await runtime.DisposeAsync();
        // A private engine removes its own containers when it goes.
        if (_engine is null)
            await TestEngine.RemoveContainersOfInstanceAsync(Options.Instance);
        // Volumes stay mounted across runtimes by design; the test's go with it.
        await LoopMounts.RemoveUnderAsync(StateFolder);
        try
        {
            Directory.Delete(StateFolder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    public static DeploymentSpec Busybox(string name = "web", IReadOnlyList<string>? command = null) => new()
    {
        Name = name,
        Image = TestEngine.BusyboxImage,
        ContainerPort = 8080,
        CpuMillicores = 250,
        MemoryBytes = 64 * RuntimeOptions.MiB,
        Command = command,
    };

    /// <summary>A shell script run by the busybox image; <c>exec httpd</c> at its end keeps it serving.</summary>
    public static IReadOnlyList<string> Shell(string script) => ["/bin/sh", "-c", script];

    public const string ServeHttp = "exec httpd -f -p 8080 -h /www";
}

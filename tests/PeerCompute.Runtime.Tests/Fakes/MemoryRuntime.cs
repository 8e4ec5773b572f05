using PeerCompute.Runtime.Deployments;

namespace PeerCompute.Runtime.Tests.Fakes;

/// <summary>A runtime over an <see cref="InMemoryEngine"/> with its own state folder; a restart opens another over the same engine and state.</summary>
internal sealed class MemoryRuntime : IAsyncDisposable
{
    private readonly List<ContainerRuntime> _runtimes = [];

    private MemoryRuntime(RuntimeOptions options, InMemoryEngine engine, TimeProvider time)
    {
        Options = options;
        Engine = engine;
        Time = time;
    }

    public RuntimeOptions Options { get; }
    public InMemoryEngine Engine { get; }
    public TimeProvider Time { get; }
    public ContainerRuntime Runtime => _runtimes[^1];

    public static async Task<MemoryRuntime> StartAsync(Func<RuntimeOptions, RuntimeOptions>? configure = null, TimeProvider? time = null)
    {
        string instance = "mem-" + Guid.NewGuid().ToString("N")[..10];
        var options = new RuntimeOptions
        {
            Instance = instance,
            StateFolder = Path.Combine(Path.GetTempPath(), "pc-runtime-memory-tests", instance),
            NetworkName = "pcmem0",
        };
        if (configure is not null)
            options = configure(options);
        time ??= TimeProvider.System;
        var harness = new MemoryRuntime(options, new InMemoryEngine(time), time);
        await harness.OpenAsync();
        return harness;
    }

    /// <summary>Another runtime over the same engine and state, as a restarted provider would open (the previous one is disposed first).</summary>
    public async Task<ContainerRuntime> OpenAsync(bool start = true)
    {
        if (_runtimes.Count > 0)
            await Runtime.DisposeAsync();
        var runtime = new ContainerRuntime(Options, Engine, timeProvider: Time);
        _runtimes.Add(runtime);
        if (start)
            await runtime.StartAsync();
        return runtime;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var runtime in _runtimes)
            await runtime.DisposeAsync();
        try
        {
            Directory.Delete(Options.StateFolder!, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    public static DeploymentSpec App(string name = "web") => new()
    {
        Name = name,
        Image = "app:1",
        ContainerPort = 8080,
        CpuMillicores = 250,
        MemoryBytes = 64 * RuntimeOptions.MiB,
    };
}

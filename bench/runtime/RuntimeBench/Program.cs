using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using PeerCompute.Runtime;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Logs;

// Measures, in one run and alternating, the time from "deploy accepted" to the container answering
// HTTP on its local port, three ways:
//   runtime   ContainerRuntime.DeployAsync (record, image check, create, start, inspect for the port)
//   plain     `docker run -d -p 127.0.0.1:PORT:8080 image` (default bridge, no confinement)
//   confined  `docker run -d` with the same confinement and network the runtime applies
// All use the same HTTP probe, so only the way the container is made differs. runtime/plain is the
// figure the issue asks for; runtime/confined isolates the runtime's own overhead from the cost of
// the confinement itself (mostly the user-defined network's setup inside the engine).
//   RuntimeBench [iterations] [image]
//   RuntimeBench smoke [image]     one pass through every runtime call (for checking a Native AOT build)

if (args.Length > 0 && args[0] == "smoke")
    return await SmokeAsync(args.Length > 1 ? args[1] : "peercompute-test/busybox:latest");

int iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
string image = args.Length > 1 ? args[1] : "peercompute-test/busybox:latest";
const int Warmup = 2;
const string Owner = "12D3KooWBenchmark";
string instance = "bench-" + Guid.NewGuid().ToString("N")[..8];
string state = Path.Combine(Path.GetTempPath(), "pc-runtime-bench", instance);

var options = new RuntimeOptions { Instance = instance, StateFolder = state, NetworkName = "pcbench0", StopTimeout = TimeSpan.FromSeconds(1) };
await using var runtime = new ContainerRuntime(options);
await runtime.StartAsync();
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };

var ours = new List<double>();
var plain = new List<double>();
var confined = new List<double>();
string[] confinement =
[
    "--network", options.NetworkName, "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
    "--tmpfs", "/tmp:rw,nosuid,nodev,size=67108864", "--init", "--cpus", "0.5", "-m", "128m", "--memory-swap", "128m",
    "--pids-limit", "256", "--ulimit", "nofile=1024:4096", "--ipc", "private", "--cgroupns", "private",
    "--restart", "unless-stopped", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
];
try
{
    for (int i = 0; i < iterations + Warmup; i++)
    {
        double a = await TimeRuntimeAsync(i);
        double b = await TimeDockerRunAsync(18080, []);
        double c = await TimeDockerRunAsync(18081, confinement);
        if (i >= Warmup)
        {
            ours.Add(a);
            plain.Add(b);
            confined.Add(c);
        }
        Console.Error.WriteLine($"iteration {i + 1 - Warmup,3}{(i < Warmup ? " (warm-up)" : "")}: runtime {a,7:0.0} ms   plain {b,7:0.0} ms   confined {c,7:0.0} ms");
    }
}
finally
{
    await Docker("rm", "-f", "pc-bench-plain");
    Directory.Delete(state, recursive: true);
}

Report("runtime deploy -> HTTP", ours);
Report("plain docker run -> HTTP", plain);
Report("confined docker run -> HTTP", confined);
Console.WriteLine($"ratio runtime / plain docker run:     {Median(ours) / Median(plain):0.000}");
Console.WriteLine($"ratio runtime / confined docker run:  {Median(ours) / Median(confined):0.000}");
return 0;

async Task<double> TimeRuntimeAsync(int i)
{
    var spec = new DeploymentSpec { Name = $"bench{i}", Image = image, ContainerPort = 8080, CpuMillicores = 500, MemoryBytes = 128 * RuntimeOptions.MiB };
    var clock = Stopwatch.StartNew();
    var status = await runtime.DeployAsync(spec, Owner);
    await WaitForHttpAsync(status.HostPort!.Value);
    double elapsed = clock.Elapsed.TotalMilliseconds;
    await runtime.RemoveAsync(status.Id, Owner);
    return elapsed;
}

async Task<double> TimeDockerRunAsync(int port, string[] flags)
{
    var clock = Stopwatch.StartNew();
    var run = await Docker(["run", "-d", "--name", "pc-bench-plain", "-p", $"127.0.0.1:{port}:8080", .. flags, image]);
    if (run.ExitCode != 0)
        throw new InvalidOperationException("docker run failed: " + run.Output);
    await WaitForHttpAsync(port);
    double elapsed = clock.Elapsed.TotalMilliseconds;
    await Docker("rm", "-f", "pc-bench-plain");
    return elapsed;
}

async Task WaitForHttpAsync(int port)
{
    var deadline = Stopwatch.StartNew();
    while (deadline.Elapsed < TimeSpan.FromSeconds(30))
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{port}/");
            if (response.IsSuccessStatusCode)
                return;
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or TaskCanceledException)
        {
        }
        await Task.Delay(2);
    }
    throw new TimeoutException($"nothing answered on 127.0.0.1:{port}");
}

static async Task<(int ExitCode, string Output)> Docker(params string[] arguments)
{
    var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (string argument in arguments)
        info.ArgumentList.Add(argument);
    using var process = Process.Start(info)!;
    string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    return (process.ExitCode, output);
}

static async Task<int> SmokeAsync(string image)
{
    string instance = "smoke-" + Guid.NewGuid().ToString("N")[..8];
    string state = Path.Combine(Path.GetTempPath(), "pc-runtime-bench", instance);
    const string owner = "12D3KooWSmoke";
    var options = new RuntimeOptions { Instance = instance, StateFolder = state, NetworkName = "pcbench0", StopTimeout = TimeSpan.FromSeconds(1) };
    try
    {
        await using var runtime = new ContainerRuntime(options);
        var started = await runtime.StartAsync();
        Console.WriteLine($"start: adopted {started.Adopted.Count}, orphans {started.Orphans.Count}");
        var spec = new DeploymentSpec
        {
            Name = "smoke", Image = image, ContainerPort = 8080, CpuMillicores = 250, MemoryBytes = 64 * RuntimeOptions.MiB,
            Environment = new Dictionary<string, string> { ["MODE"] = "smoke" },
            Command = ["/bin/sh", "-c", "echo out-$MODE; echo err-$MODE >&2; exec httpd -f -p 8080 -h /www"],
        };
        var deployed = await runtime.DeployAsync(spec, owner, new Progress<PullProgress>(p => Console.WriteLine($"pull {p.Layer} {p.Status}")));
        Console.WriteLine($"deployed {deployed.Id} on 127.0.0.1:{deployed.HostPort}");
        using var http = new HttpClient();
        for (int i = 0; ; i++)
        {
            try { Console.WriteLine("http: " + (await http.GetStringAsync($"http://127.0.0.1:{deployed.HostPort}/")).Trim()); break; }
            catch (HttpRequestException) when (i < 300) { await Task.Delay(20); }
        }
        var status = await runtime.GetStatusAsync(deployed.Id, owner);
        Console.WriteLine($"status {status.State}, uptime {status.Uptime}, cpu {status.Usage?.CpuMillicores}m, memory {status.Usage?.MemoryBytes} of {status.Usage?.MemoryLimitBytes}, pids {status.Usage?.Processes}");
        await foreach (var entry in runtime.StreamLogsAsync(deployed.Id, owner, new LogOptions { Tail = 10 }))
            Console.WriteLine($"log {entry.Stream} {entry.Timestamp:O} {entry.Text}");
        Console.WriteLine($"list {(await runtime.ListAsync(owner)).Count}, capacity free {runtime.GetCapacity().FreeCpuMillicores}m");
        var stopped = await runtime.StopAsync(deployed.Id, owner);
        Console.WriteLine($"stopped: {stopped.State}, exit {stopped.ExitCode}");
        await runtime.RemoveAsync(deployed.Id, owner);
        await runtime.ReconcileAsync();
        try { await runtime.GetStatusAsync(deployed.Id, owner); }
        catch (RuntimeException ex) { Console.WriteLine($"after remove: {ex.Code}"); }
        Console.WriteLine("smoke ok");
        return 0;
    }
    finally
    {
        Directory.Delete(state, recursive: true);
        await Docker("network", "rm", "pcbench0");
    }
}

static void Report(string what, List<double> values)
    => Console.WriteLine($"{what,-30} median {Median(values),7:0.0} ms  (min {values.Min():0.0}, max {values.Max():0.0}, n={values.Count})");

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

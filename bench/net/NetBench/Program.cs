using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Tests.Interop;
using PeerCompute.NetBench;

// Scripted libp2p benchmark, all pairs in one run over loopback:
//   C#->C#, C#->js, js->C#, js->js: single-stream push and pull (bench protocol, SHA-256 checked),
//   stream open+close rate (echo 1 byte per stream) sequential and 32 at a time,
//   plus C#->C# into a plain sink (no hashing) to show the stack alone.
//   --relay instead: single-stream push and sink, direct against through our circuit relay (a third host), alternating.
//   plus yamux alone (TCP + Noise, no multistream) stream open+close one at a time: the yamux-open-close row.
// Usage: dotnet run -c Release --project bench/net/NetBench -- [--mib 256] [--repeat 3] [--streams 2000] [--no-js] [--relay]
//   [--only sink|push|yamux] (just that figure, for profiling); BENCH_ROWS=file appends the libp2p-stream and yamux-open-close rows.
var options = args.ToList();
string? only = StringOption("--only");
int mib = IntOption("--mib", 256);
int repeat = IntOption("--repeat", 3);
int streams = IntOption("--streams", 2000);
int concurrency = IntOption("--concurrency", 32);
bool withJs = !options.Contains("--no-js");
var yamux = new PeerCompute.Mux.YamuxOptions { WindowGrowthThreshold = TimeSpan.FromMilliseconds(IntOption("--growth-ms", 1000)) };
long bytes = (long)mib * 1024 * 1024;
var results = new List<Row>();

Console.WriteLine($"# libp2p benchmark: {mib} MiB per transfer, {(options.Contains("--relay") ? "direct against relayed" : $"{streams} streams")}, median of {repeat}; {Environment.ProcessorCount} cores, load {LoadAverage()}");

if (options.Contains("--relay"))
    return await RelayBench.RunAsync(yamux, bytes, repeat);

if (only == "yamux")
{
    await using var bench = await YamuxBench.StartAsync(yamux);
    await bench.OpenCloseAsync(2000); // warm-up: until the JIT's tiering settles (the daemon is AOT)
    var cpu = new List<double>();
    var switches = new List<double>();
    var allocated = new List<double>();
    double rate = await Repeat(async () =>
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        long ctx = ContextSwitches();
        long heap = GC.GetTotalAllocatedBytes(precise: true);
        double r = await bench.OpenCloseAsync(streams);
        allocated.Add((double)(GC.GetTotalAllocatedBytes(precise: true) - heap) / streams);
        cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - before).TotalMicroseconds / streams);
        switches.Add((double)(ContextSwitches() - ctx) / streams);
        return r;
    });
    Console.WriteLine($"  yamux open+close: {rate:0}/s one at a time, {Median(cpu):0.0} CPU-us, {Median(switches):0.0} context switches and {Median(allocated):0} bytes allocated per stream (both ends)");
    return 0;
}
double sinkCpu = 0, pushCpu = 0, yamuxOpenClose = 0;
// ---- C# <-> C#
if (only is "sink" or "push")
{
    await using var server = await StartHostAsync(yamux);
    await using var client = new Libp2pHost(PeerIdentity.Generate(), new Libp2pHostOptions { Yamux = yamux });
    var connection = await client.DialAsync(server.Address);
    Func<Task<double>> run = only == "sink" ? () => SinkAsync(connection, bytes) : () => BenchProtocol.PushAsync(connection, bytes);
    await run();
    var cpu = new List<double>();
    double mbps = await Repeat(() => WithCpu(run, cpu));
    Console.WriteLine($"  C#->C# {only}: {mbps:0} MB/s, {Median(cpu):0.00} CPU-s per GiB");
    return 0;
}
{
    await using var server = await StartHostAsync(yamux);
    await using var client = new Libp2pHost(PeerIdentity.Generate(), new Libp2pHostOptions { Yamux = yamux });
    var connection = await client.DialAsync(server.Address);
    await connection.Identified;
    await Measure("C#->C#", () => BenchProtocol.PushAsync(connection, bytes), () => BenchProtocol.PullAsync(connection, bytes),
        n => BenchProtocol.StreamsAsync(connection, n, 1), n => BenchProtocol.StreamsAsync(connection, n, concurrency));
    var cpu = new List<double>();
    var sink = await Repeat(() => WithCpu(() => SinkAsync(connection, bytes), cpu));
    sinkCpu = Median(cpu);
    results.Add(new Row("C#->C# sink, no hashing", sink, 0, 0, 0));
    cpu.Clear();
    await Repeat(() => WithCpu(() => BenchProtocol.PushAsync(connection, bytes), cpu));
    pushCpu = Median(cpu);
    Console.WriteLine($"  C#->C# sink: {sink:0} MB/s, {sinkCpu:0.00} CPU-s per GiB (both ends in this process); push with SHA-256 on both ends {pushCpu:0.00} CPU-s per GiB");

    // ---- yamux alone, over its own TCP + Noise connection (no multistream, no host)
    await using var bench = await YamuxBench.StartAsync(yamux);
    await bench.OpenCloseAsync(2000); // warm-up: until the JIT's tiering settles (the daemon is AOT)
    yamuxOpenClose = await Repeat(() => bench.OpenCloseAsync(streams));
    Console.WriteLine($"  yamux open+close (TCP + Noise, no multistream): {yamuxOpenClose:0}/s one at a time");
}

if (withJs)
{
    // ---- C# -> js and js -> C#
    await using (var server = await StartHostAsync(yamux))
    await using (var js = await JsPeer.StartAsync(new JsPeerOptions { ConnectionMonitor = false }))
    {
        var toJs = await server.Host.DialAsync(Multiaddr.Parse(js.Addrs[0]));
        await toJs.Identified;
        await Measure("C#->js", () => BenchProtocol.PushAsync(toJs, bytes), () => BenchProtocol.PullAsync(toJs, bytes),
            n => BenchProtocol.StreamsAsync(toJs, n, 1), n => BenchProtocol.StreamsAsync(toJs, n, concurrency));
        await MeasureJs("js->C#", js, server.Host.PeerId.ToString());
    }

    // ---- js -> js
    await using (var a = await JsPeer.StartAsync(new JsPeerOptions { ConnectionMonitor = false }))
    await using (var b = await JsPeer.StartAsync(new JsPeerOptions { ConnectionMonitor = false }))
    {
        await a.SendAsync("dial", new JsonObject { ["addr"] = b.Addrs[0] });
        await MeasureJs("js->js", a, b.PeerId);
    }
}

Console.WriteLine();
Console.WriteLine("| pair | push MB/s | pull MB/s | streams/s sequential | streams/s 32 at once |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var r in results)
    Console.WriteLine($"| {r.Pair} | {r.Push:0} | {(r.Pull > 0 ? r.Pull.ToString("0", CultureInfo.InvariantCulture) : "")} | {(r.Sequential > 0 ? r.Sequential.ToString("0", CultureInfo.InvariantCulture) : "")} | {(r.Concurrent > 0 ? r.Concurrent.ToString("0", CultureInfo.InvariantCulture) : "")} |");
var jsjs = results.FirstOrDefault(r => r.Pair == "js->js");
var cc = results.First(r => r.Pair == "C#->C#");
if (jsjs is not null)
{
    Console.WriteLine();
    Console.WriteLine($"C#<->C# / js<->js: push {cc.Push / jsjs.Push:0.0}x, pull {cc.Pull / jsjs.Pull:0.0}x, " +
        $"streams sequential {cc.Sequential / jsjs.Sequential:0.0}x, streams 32 at once {cc.Concurrent / jsjs.Concurrent:0.0}x");
    foreach (var pair in new[] { "C#->js", "js->C#" })
    {
        var r = results.First(x => x.Pair == pair);
        Console.WriteLine($"{pair} / js<->js: push {r.Push / jsjs.Push:0.0}x, pull {r.Pull / jsjs.Pull:0.0}x, " +
            $"streams sequential {r.Sequential / jsjs.Sequential:0.0}x, 32 at once {r.Concurrent / jsjs.Concurrent:0.0}x");
    }
}

// The rows the aggregate bench table shows. libp2p-stream: the hashed push (the bench protocol js peers speak) C#<->C#
// against js<->js; yamux-open-close: yamux alone, with the libp2p figure (multistream on every stream) beside it.
double sinkRow = results.First(r => r.Pair.StartsWith("C#->C# sink", StringComparison.Ordinal)).Push;
string streamRatio = jsjs is null ? "-" : Invariant($"{cc.Push / jsjs.Push:0.00}x");
bool streamMet = cc.Push >= 1000 && jsjs is not null && cc.Push / jsjs.Push >= 5;
Console.WriteLine();
Console.WriteLine("| row | ours | reference | ratio | aim | met |");
Console.WriteLine("|---|---:|---:|---:|---|---|");
Console.WriteLine(Invariant($"| libp2p-stream (push, SHA-256 both ends) | {cc.Push:0} MB/s | js<->js {(jsjs is null ? "-" : Invariant($"{jsjs.Push:0} MB/s"))} | {streamRatio} | >= 1 GB/s and >= 5x | {(streamMet ? "yes" : "no")} |"));
Console.WriteLine(Invariant($"| libp2p sink (no hashing) | {sinkRow:0} MB/s, {sinkCpu:0.00} CPU-s/GiB | | | | |"));
Console.WriteLine(Invariant($"| libp2p push CPU (SHA-256 both ends) | {pushCpu:0.00} CPU-s/GiB | | | | |"));
Console.WriteLine(Invariant($"| yamux-open-close (TCP + Noise, no multistream) | {yamuxOpenClose:0}/s | | | >= 20k/s | {(yamuxOpenClose >= 20000 ? "yes" : "no")} |"));
Console.WriteLine(Invariant($"| libp2p open+negotiate+echo+close | {cc.Sequential:0}/s | js<->js {(jsjs is null ? "-" : Invariant($"{jsjs.Sequential:0}/s"))} | {(jsjs is null ? "-" : Invariant($"{cc.Sequential / jsjs.Sequential:0.0}x"))} | | |"));
if (Environment.GetEnvironmentVariable("BENCH_ROWS") is { Length: > 0 } rowsFile)
{
    File.AppendAllLines(rowsFile,
    [
        Invariant($"libp2p-stream\t{cc.Push:0} MB/s\tjs<->js single stream\t{(jsjs is null ? "-" : Invariant($"{jsjs.Push:0} MB/s"))}\t{streamRatio}\t>= 1 GB/s and >= 5x\t{(jsjs is null ? "-" : streamMet ? "yes" : "no")}"),
        Invariant($"yamux-open-close\t{yamuxOpenClose:0} streams/s\t-\t-\t-\t>= 20k/s\t{(yamuxOpenClose >= 20000 ? "yes" : "no")}"),
    ]);
}
return 0;

async Task<double> WithCpu(Func<Task<double>> run, List<double> cpuPerGiB)
{
    var before = Process.GetCurrentProcess().TotalProcessorTime;
    double mbps = await run();
    cpuPerGiB.Add((Process.GetCurrentProcess().TotalProcessorTime - before).TotalSeconds / (bytes / 1073741824.0));
    return mbps;
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

string? StringOption(string name)
{
    int i = options.IndexOf(name);
    return i >= 0 && i + 1 < options.Count ? options[i + 1] : null;
}

async Task Measure(string pair, Func<Task<double>> push, Func<Task<double>> pull, Func<int, Task<double>> sequential, Func<int, Task<double>> concurrent)
{
    // Warm-up: JIT tiering (the daemon is Native AOT: compiling is no part of what it costs), window growth.
    await push();
    await sequential(2000);
    var row = new Row(pair, await Repeat(push), await Repeat(pull), await Repeat(() => sequential(streams)), await Repeat(() => concurrent(streams)));
    results.Add(row);
    Console.WriteLine($"  {row}");
}

async Task MeasureJs(string pair, JsPeer js, string target)
{
    await js.SendAsync("send", new JsonObject { ["peer"] = target, ["bytes"] = Math.Min(bytes, 64 * 1024 * 1024) });
    await js.SendAsync("streams", new JsonObject { ["peer"] = target, ["count"] = Math.Min(streams, 200), ["concurrency"] = 1 });
    async Task<double> Command(string cmd, JsonObject args, string figure)
    {
        args["peer"] = target;
        var result = await js.SendAsync(cmd, args);
        if (result.TryGetProperty("match", out var match) && !match.GetBoolean())
            throw new InvalidOperationException($"{pair} {cmd}: digest mismatch");
        if (result.TryGetProperty("ok", out var ok) && !ok.GetBoolean())
            throw new InvalidOperationException($"{pair} {cmd}: {result}");
        return result.GetProperty(figure).GetDouble();
    }
    var row = new Row(pair,
        await Repeat(() => Command("send", new JsonObject { ["bytes"] = bytes }, "MBps")),
        await Repeat(() => Command("receive", new JsonObject { ["bytes"] = bytes }, "MBps")),
        await Repeat(() => Command("streams", new JsonObject { ["count"] = streams, ["concurrency"] = 1 }, "streamsPerSec")),
        await Repeat(() => Command("streams", new JsonObject { ["count"] = streams, ["concurrency"] = concurrency }, "streamsPerSec")));
    results.Add(row);
    Console.WriteLine($"  {row}");
}

async Task<double> Repeat(Func<Task<double>> run)
{
    var values = new List<double>();
    for (int i = 0; i < repeat; i++)
        values.Add(await run());
    return Median(values);
}

int IntOption(string name, int fallback)
{
    int i = options.IndexOf(name);
    return i >= 0 && i + 1 < options.Count ? int.Parse(options[i + 1], CultureInfo.InvariantCulture) : fallback;
}

internal sealed record Row(string Pair, double Push, double Pull, double Sequential, double Concurrent)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Pair}: push {Push:0} MB/s, pull {Pull:0} MB/s, streams {Sequential:0}/s sequential, {Concurrent:0}/s 32 at once");
}

internal sealed record TestHost(Libp2pHost Host, Multiaddr Address) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

internal static partial class Program
{
    internal const string SinkProtocol = "/peercompute/sink/1.0.0";

    internal static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>Context switches of all this process's threads so far (voluntary and not), from /proc.</summary>
    internal static long ContextSwitches()
    {
        long total = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    if (line.EndsWith("ctxt_switches", StringComparison.Ordinal) is false && line.Contains("ctxt_switches:", StringComparison.Ordinal))
                        total += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }
        return total;
    }

    internal static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    internal static async Task<TestHost> StartHostAsync(PeerCompute.Mux.YamuxOptions yamux)
    {
        var host = new Libp2pHost(PeerIdentity.Generate(), new Libp2pHostOptions { Yamux = yamux });
        BenchProtocol.Register(host);
        host.SetStreamHandler(SinkProtocol, async (stream, ct) =>
        {
            var buffer = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = await stream.Stream.ReadAsync(buffer, ct)) > 0)
                total += n;
            await stream.Stream.WriteAsync(BitConverter.GetBytes(total), ct);
            await stream.Stream.CompleteWritesAsync(ct);
        });
        var bound = await host.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));
        return new TestHost(host, bound.WithPeerId(host.PeerId));
    }

    internal static async Task<double> SinkAsync(Libp2pConnection connection, long size)
    {
        var chunk = new byte[256 * 1024];
        Random.Shared.NextBytes(chunk);
        long start = Stopwatch.GetTimestamp();
        await using var stream = await connection.OpenStreamAsync(SinkProtocol, CancellationToken.None);
        for (long sent = 0; sent < size; sent += chunk.Length)
            await stream.Stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, size - sent)));
        await stream.Stream.CompleteWritesAsync();
        var answer = new byte[8];
        await stream.Stream.ReadExactlyAsync(answer);
        if (BitConverter.ToInt64(answer) != size)
            throw new InvalidOperationException("sink: byte count mismatch");
        return size / 1e6 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}

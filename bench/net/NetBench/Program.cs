using System.Diagnostics;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;

// Scripted libp2p benchmark. Usage: NetBench [--mib N] [--streams N] [--js <path to peer.mjs dir>]
var argsList = args.ToList();
int mib = Option("--mib", 1024);
int streamCount = Option("--streams", 5000);

const string Bench = "/peercompute/bench/1.0.0";

Console.WriteLine($"libp2p stack benchmark: {mib} MiB on one stream, {streamCount} stream open+close; {Environment.ProcessorCount} cores");

var (server, address) = await StartAsync();
var client = new Libp2pHost(PeerIdentity.Generate());
var connection = await client.DialAsync(address);
await connection.Identified;

// Warm-up, then measure.
for (int i = 0; i < 3; i++)
    await SendAsync(connection, 256L * 1024 * 1024);
for (int i = 0; i < 3; i++)
{
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    double mbps = await SendAsync(connection, (long)mib * 1024 * 1024);
    cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
    Console.WriteLine($"C#->C# single stream: {mbps:0} MB/s, {cpu.TotalSeconds / (mib / 1024.0):0.00} CPU-s per GiB");
}
await OpenCloseAsync(connection, 500);
double rate = await OpenCloseAsync(connection, streamCount);
Console.WriteLine($"C#->C# stream open+close: {rate:0} streams/s");

await client.DisposeAsync();
await server.DisposeAsync();

int Option(string name, int fallback)
{
    int i = argsList.IndexOf(name);
    return i >= 0 && i + 1 < argsList.Count ? int.Parse(argsList[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

static async Task<(Libp2pHost, Multiaddr)> StartAsync()
{
    var host = new Libp2pHost(PeerIdentity.Generate());
    // bench protocol: read everything, then answer with the byte count as 8 bytes and FIN.
    host.SetStreamHandler(Bench, async (stream, ct) =>
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
    return (host, bound.WithPeerId(host.PeerId));
}

static async Task<double> SendAsync(Libp2pConnection connection, long bytes)
{
    var chunk = new byte[256 * 1024];
    Random.Shared.NextBytes(chunk);
    var watch = Stopwatch.StartNew();
    await using var stream = await connection.OpenStreamAsync(Bench, CancellationToken.None);
    for (long sent = 0; sent < bytes; sent += chunk.Length)
        await stream.Stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, bytes - sent)));
    await stream.Stream.CompleteWritesAsync();
    var answer = new byte[8];
    await stream.Stream.ReadExactlyAsync(answer);
    watch.Stop();
    if (BitConverter.ToInt64(answer) != bytes)
        throw new InvalidOperationException("byte count mismatch");
    return bytes / 1e6 / watch.Elapsed.TotalSeconds;
}

static async Task<double> OpenCloseAsync(Libp2pConnection connection, int count)
{
    var watch = Stopwatch.StartNew();
    var answer = new byte[8];
    for (int i = 0; i < count; i++)
    {
        await using var stream = await connection.OpenStreamAsync(Bench, CancellationToken.None);
        await stream.Stream.CompleteWritesAsync();
        await stream.Stream.ReadExactlyAsync(answer);
    }
    return count / watch.Elapsed.TotalSeconds;
}

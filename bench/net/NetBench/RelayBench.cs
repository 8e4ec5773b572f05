using System.Diagnostics;
using System.Globalization;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;

namespace PeerCompute.NetBench;

/// <summary>
/// <c>--relay</c>: one stream's throughput direct against through our circuit relay, C#->C#, in one process and one run.
/// Three hosts on loopback: a relay (<see cref="CircuitRelayServer"/> with no data, time or bandwidth limit, so only the
/// stack is measured), a target that listens on TCP and reserves on the relay, and two diallers: one dials the target's
/// TCP address, the other its relayed address (separate hosts, so neither can reuse the other's connection). The relayed
/// path is dialler -> relay (Noise + yamux) -> relay's splice -> relay -> target (Noise + yamux), with the two ends'
/// own Noise + yamux inside the circuit: every byte is encrypted twice on each end and decrypted and re-encrypted at
/// the relay. Direct and relayed runs alternate, so load changes hit both alike. Last, a few pushes through a second
/// relay with the default limits show what a gateway's relay gives one provider unless configured otherwise.
/// </summary>
internal static class RelayBench
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(YamuxOptions yamux, long bytes, int repeat)
    {
        var hostOptions = new Libp2pHostOptions { Yamux = yamux };
        await using var target = await Program.StartHostAsync(yamux);
        // The relay under test has no limits; a second one keeps the defaults (what a gateway's relay gives by default).
        await using var relayHost = new Libp2pHost(PeerIdentity.Generate(), hostOptions);
        await using var relay = new CircuitRelayServer(relayHost, new CircuitRelayOptions
        {
            MayReserve = _ => true,
            CircuitDuration = null,
            CircuitDataBytes = null,
            BytesPerSecondPerPeer = null,
        });
        var relayedAddress = await ReserveAsync(relayHost, target.Host);
        await using var cappedHost = new Libp2pHost(PeerIdentity.Generate(), hostOptions);
        await using var capped = new CircuitRelayServer(cappedHost, new CircuitRelayOptions { MayReserve = _ => true });
        var cappedAddress = await ReserveAsync(cappedHost, target.Host);

        await using var directDialler = new Libp2pHost(PeerIdentity.Generate(), hostOptions);
        await using var relayedDialler = new Libp2pHost(PeerIdentity.Generate(), hostOptions);
        await using var cappedDialler = new Libp2pHost(PeerIdentity.Generate(), hostOptions);
        var direct = await directDialler.DialAsync(target.Address).WaitAsync(Guard);
        var relayed = await relayedDialler.DialAsync(relayedAddress).WaitAsync(Guard);
        var cappedRelayed = await cappedDialler.DialAsync(cappedAddress).WaitAsync(Guard);
        await direct.Identified.WaitAsync(Guard);
        await relayed.Identified.WaitAsync(Guard);
        await cappedRelayed.Identified.WaitAsync(Guard);
        if (direct.IsRelayed || !relayed.IsRelayed || !cappedRelayed.IsRelayed)
            throw new InvalidOperationException("expected one direct connection and two relayed ones");
        Console.WriteLine($"  relayed: {relayedAddress}");

        // Warm-up: JIT, yamux window growth on every leg.
        await BenchProtocol.PushAsync(direct, bytes);
        await BenchProtocol.PushAsync(relayed, bytes);

        List<double> pushDirect = [], pushRelayed = [], sinkDirect = [], sinkRelayed = [], cpuDirect = [], cpuRelayed = [];
        for (int i = 0; i < repeat; i++)
        {
            pushDirect.Add(await BenchProtocol.PushAsync(direct, bytes));
            pushRelayed.Add(await BenchProtocol.PushAsync(relayed, bytes));
            sinkDirect.Add(await CpuAsync(() => Program.SinkAsync(direct, bytes), bytes, cpuDirect));
            sinkRelayed.Add(await CpuAsync(() => Program.SinkAsync(relayed, bytes), bytes, cpuRelayed));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  run {i + 1}: push direct {pushDirect[^1]:0} relayed {pushRelayed[^1]:0} MB/s; sink direct {sinkDirect[^1]:0} relayed {sinkRelayed[^1]:0} MB/s"));
        }
        if (relay.CircuitCount != 1)
            throw new InvalidOperationException($"the relay carries {relay.CircuitCount} circuits, expected the one");
        // Through the default limits: 32 MiB/s per reserved peer (a token bucket), so a smaller transfer says enough.
        long cappedBytes = Math.Min(bytes, 64L << 20);
        await BenchProtocol.PushAsync(cappedRelayed, cappedBytes);
        var pushCapped = new List<double>();
        for (int i = 0; i < Math.Min(repeat, 3); i++)
            pushCapped.Add(await BenchProtocol.PushAsync(cappedRelayed, cappedBytes));

        double pd = Program.Median(pushDirect), pr = Program.Median(pushRelayed), sd = Program.Median(sinkDirect), sr = Program.Median(sinkRelayed);
        double cd = Program.Median(cpuDirect), cr = Program.Median(cpuRelayed);
        Console.WriteLine();
        Console.WriteLine("| C#->C#, one stream | push MB/s | sink MB/s | CPU-s per GiB (sink, all hosts) |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| direct | {pd:0} | {sd:0} | {cd:0.00} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| through the relay (no limits) | {pr:0} | {sr:0} | {cr:0.00} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| through the relay, default limits (32 MiB/s = {(32L << 20) / 1e6:0.0} MB/s per peer) | {Program.Median(pushCapped):0} | | |"));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"relayed/direct: push {pr / pd:0.00}x, sink {sr / sd:0.00}x, CPU per GiB {cr / cd:0.00}x"));
        return 0;
    }

    /// <summary>Makes <paramref name="target"/> reserve on the relay <paramref name="relayHost"/> serves; returns the target's address through it.</summary>
    private static async Task<Multiaddr> ReserveAsync(Libp2pHost relayHost, Libp2pHost target)
    {
        var relayAddress = (await relayHost.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"))).WithPeerId(relayHost.PeerId);
        var reserved = new TaskCompletionSource<RelayReservationState>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(RelayReservationState state)
        {
            if (state.Relay.Equals(relayAddress) && (state.IsReserved || state.LastError is not null))
                reserved.TrySetResult(state);
        }
        target.RelayReservationChanged += OnChanged;
        await target.ListenAsync(Multiaddr.Parse($"{relayAddress}/p2p-circuit"));
        var reservation = await reserved.Task.WaitAsync(Guard);
        target.RelayReservationChanged -= OnChanged;
        if (!reservation.IsReserved)
            throw new InvalidOperationException($"the reservation on {relayAddress} failed: {reservation.LastError}");
        return Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{target.PeerId}");
    }

    /// <summary>Runs <paramref name="run"/>, adding this process's CPU seconds per GiB moved to <paramref name="cpu"/>.</summary>
    private static async Task<double> CpuAsync(Func<Task<double>> run, long bytes, List<double> cpu)
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        double mbps = await run();
        cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - before).TotalSeconds / (bytes / 1073741824.0));
        return mbps;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Net.Tests.Nat;

/// <summary>
/// The NAT lab (<see cref="NatLab"/>) behaves like real NATs: nothing gets in unasked, the public side sees each side
/// as its router, an easy NAT keeps the source port and a hard one does not, and two peers behind easy NATs can
/// reach each other by a TCP simultaneous open (what DCUtR does) while a hard NAT on either side defeats it.
/// All traffic stays in namespaces the test creates, and the root namespace's link to them.
/// </summary>
public class NatLabTests
{
    private const int TestTimeoutMs = 120_000;

    /// <summary>A connection that gets through at all does so in milliseconds; failing ones are dropped silently and wait this long.</summary>
    private static readonly TimeSpan RefusedTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>Only guards against hangs: every connection here that should work is local.</summary>
    private static readonly TimeSpan WorkingTimeout = TimeSpan.FromSeconds(10);

    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(false)]
    [Arguments(true)]
    public async Task Home_cannot_connect_into_the_root_namespace_while_both_reach_the_public_host(bool hardNat, CancellationToken cancellationToken)
    {
        await using var lab = await NatLab.CreateAsync(new NatLabOptions { HardNatHost = hardNat, HardNatHome = hardNat }, cancellationToken);
        using var observer = await Observer.StartAsync(lab);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Any, 0));
        listener.Listen(16);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        // Control: the listener answers across the link, so what stops the home below is its way in, not the listener.
        using (var fromRouter = await lab.RunInNamespaceAsync(lab.HostRouterNamespace, NewSocket))
        {
            await Assert.That(await TryConnectAsync(fromRouter, new IPEndPoint(lab.HostLinkAddress, port), WorkingTimeout)).IsNull();
            using var accepted = await listener.AcceptAsync(cancellationToken).AsTask().WaitAsync(WorkingTimeout, cancellationToken);
        }

        // The public subnet routes the host's link to its router, so the SYN reaches the router and is dropped there;
        // the router's own public address has nothing forwarded.
        foreach (var target in new[] { lab.HostLinkAddress, lab.HostRouterPublicAddress })
        {
            using var fromHome = await lab.RunInNamespaceAsync(lab.HomeNamespace, NewSocket);
            var error = await TryConnectAsync(fromHome, new IPEndPoint(target, port), RefusedTimeout);
            await Assert.That(error).IsNotNull().Because($"home reached {target}:{port} in the root namespace ({lab})");
        }
        await Assert.That(listener.Poll(0, SelectMode.SelectRead)).IsFalse().Because("no connection may have reached the root listener");

        using var fromRoot = NewSocket();
        await Assert.That((await observer.ObserveAsync(fromRoot, cancellationToken)).Address).IsEqualTo(lab.HostRouterPublicAddress);
        using var fromHomeOut = await lab.RunInNamespaceAsync(lab.HomeNamespace, NewSocket);
        await Assert.That((await observer.ObserveAsync(fromHomeOut, cancellationToken)).Address).IsEqualTo(lab.HomeRouterPublicAddress);
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(false)]
    [Arguments(true)]
    public async Task The_public_side_sees_each_side_as_its_router_keeping_the_port_only_behind_an_easy_nat(bool hardNat, CancellationToken cancellationToken)
    {
        await using var lab = await NatLab.CreateAsync(new NatLabOptions { HardNatHost = hardNat, HardNatHome = hardNat }, cancellationToken);
        using var observer = await Observer.StartAsync(lab);
        // A few connections per side: --random-fully may keep a port by chance (about 1 in 64 000), five times in a row
        // practically never, so "some port changed" is a sound test of the hard NAT and "every port kept" of the easy one.
        const int Attempts = 5;
        foreach (var (ns, router) in new[] { ((string?)null, lab.HostRouterPublicAddress), (lab.HomeNamespace, lab.HomeRouterPublicAddress) })
        {
            var pairs = new List<(int Bound, int Seen)>();
            for (int i = 0; i < Attempts; i++)
            {
                using var client = await ReusableSocketAsync(lab, ns, 0);
                int bound = ((IPEndPoint)client.LocalEndPoint!).Port;
                var seen = await observer.ObserveAsync(client, cancellationToken);
                await Assert.That(seen.Address).IsEqualTo(router);
                pairs.Add((bound, seen.Port));
            }
            string side = ns ?? "root";
            string described = string.Join(", ", pairs.Select(p => $"{p.Bound}->{p.Seen}"));
            if (hardNat)
                await Assert.That(pairs.Any(p => p.Bound != p.Seen)).IsTrue().Because($"{side}: a hard NAT kept every port ({described})");
            else
                await Assert.That(pairs.All(p => p.Bound == p.Seen)).IsTrue().Because($"{side}: an easy NAT changed a port ({described})");
        }
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task A_simultaneous_open_through_two_easy_nats_connects_and_carries_bytes(CancellationToken cancellationToken)
    {
        await using var lab = await NatLab.CreateAsync(new NatLabOptions(), cancellationToken);
        using var observer = await Observer.StartAsync(lab);
        var started = Stopwatch.StartNew();
        var punch = await PunchAsync(lab, observer, cancellationToken);
        using var host = punch.Host;
        using var home = punch.Home;
        await Assert.That(host).IsNotNull().Because($"no connection after {punch.Attempts} attempts ({punch.Errors}) in {lab}");
        Console.WriteLine($"{lab}: connected on attempt {punch.Attempts} after {started.ElapsedMilliseconds} ms");

        // Each sees the other at the address the observer saw: the mappings the NATs made for the observer's connections.
        await Assert.That(host!.RemoteEndPoint).IsEqualTo(punch.HomeMapped);
        await Assert.That(home!.RemoteEndPoint).IsEqualTo(punch.HostMapped);
        await host.SendAsync(Encoding.ASCII.GetBytes("from the host"), cancellationToken);
        await Assert.That(await ReceiveAsync(home, "from the host".Length, cancellationToken)).IsEqualTo("from the host");
        await home.SendAsync(Encoding.ASCII.GetBytes("from home"), cancellationToken);
        await Assert.That(await ReceiveAsync(host, "from home".Length, cancellationToken)).IsEqualTo("from home");
    }

    [Test, Timeout(TestTimeoutMs)]
    [Arguments(true, false)]
    [Arguments(false, true)]
    public async Task A_simultaneous_open_does_not_connect_when_one_side_is_a_hard_nat(bool hardHost, bool hardHome, CancellationToken cancellationToken)
    {
        await using var lab = await NatLab.CreateAsync(new NatLabOptions { HardNatHost = hardHost, HardNatHome = hardHome }, cancellationToken);
        using var observer = await Observer.StartAsync(lab);
        var punch = await PunchAsync(lab, observer, cancellationToken);
        using var host = punch.Host;
        using var home = punch.Home;
        // Sound up to chance: the hard side's punching connection would have to draw the very port its observed one got.
        await Assert.That(host).IsNull().Because($"connected through a hard NAT on attempt {punch.Attempts} in {lab}");
    }

    private sealed record Punch(Socket? Host, Socket? Home, IPEndPoint HostMapped, IPEndPoint HomeMapped, int Attempts, string Errors);

    /// <summary>
    /// What DCUtR does once both peers know each other's observed address: each learns its own mapping by connecting to
    /// the observer from its punching port, keeps that connection (the relay connection, in libp2p), then both connect to
    /// the other's mapping at the same time from that same port. The first SYN to reach the far router is dropped there,
    /// but it opened its own router for the other's SYN, which then reaches a socket that is itself connecting. The two
    /// connects run concurrently, so one attempt normally does it; a few bounded attempts cover a loaded machine starting
    /// one connect after the other timed out (no waiting in between: each attempt is itself bounded by its timeout).
    /// </summary>
    private static async Task<Punch> PunchAsync(NatLab lab, Observer observer, CancellationToken cancellationToken)
    {
        const int MaxAttempts = 4;
        var attemptTimeout = TimeSpan.FromSeconds(2);
        using var hostObserved = await ReusableSocketAsync(lab, null, 0);
        using var homeObserved = await ReusableSocketAsync(lab, lab.HomeNamespace, 0);
        int hostPort = ((IPEndPoint)hostObserved.LocalEndPoint!).Port;
        int homePort = ((IPEndPoint)homeObserved.LocalEndPoint!).Port;
        var hostMapped = await observer.ObserveAsync(hostObserved, cancellationToken);
        var homeMapped = await observer.ObserveAsync(homeObserved, cancellationToken);

        var errors = new List<string>();
        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            // Both sockets exist before either connect starts, so the two SYNs leave together.
            var host = await ReusableSocketAsync(lab, null, hostPort);
            var home = await ReusableSocketAsync(lab, lab.HomeNamespace, homePort);
            var hostConnect = TryConnectAsync(host, homeMapped, attemptTimeout);
            var homeConnect = TryConnectAsync(home, hostMapped, attemptTimeout);
            var hostError = await hostConnect;
            var homeError = await homeConnect;
            if (hostError is null && homeError is null)
                return new Punch(host, home, hostMapped, homeMapped, attempt, string.Join("; ", errors));
            errors.Add($"#{attempt}: host {hostError?.Message ?? "connected"}, home {homeError?.Message ?? "connected"}");
            host.Dispose();
            home.Dispose();
        }
        return new Punch(null, null, hostMapped, homeMapped, MaxAttempts, string.Join("; ", errors));
    }

    /// <summary>A TCP socket bound to <paramref name="port"/> (0: the kernel picks) that shares it with the other sockets of the same punch.</summary>
    private static async Task<Socket> ReusableSocketAsync(NatLab lab, string? ns, int port)
    {
        Socket Create()
        {
            var socket = NewSocket();
            try
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
                socket.Bind(new IPEndPoint(IPAddress.Any, port));
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        return ns is null ? Create() : await lab.RunInNamespaceAsync(ns, Create);
    }

    private static Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    /// <summary>Null once connected; the failure (refused, unreachable, timed out) otherwise.</summary>
    private static async Task<Exception?> TryConnectAsync(Socket socket, IPEndPoint to, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(to, cts.Token);
            return null;
        }
        catch (OperationCanceledException)
        {
            return new TimeoutException($"connecting to {to} timed out after {timeout.TotalSeconds} s");
        }
        catch (SocketException ex)
        {
            return ex;
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket, int length, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(WorkingTimeout);
        var buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token);
            if (n == 0)
                throw new InvalidOperationException($"connection closed after {total} of {length} bytes");
            total += n;
        }
        return Encoding.ASCII.GetString(buffer);
    }

    /// <summary>
    /// A listener on the public host that reports where each connection came from, as identify's observed address does.
    /// Its accepted connections stay open until it is disposed (the relay connection a peer keeps).
    /// </summary>
    private sealed class Observer : IDisposable
    {
        private readonly Socket _listener;
        private readonly List<Socket> _accepted = [];

        private Observer(Socket listener) => _listener = listener;

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

        public static async Task<Observer> StartAsync(NatLab lab) =>
            new(await lab.RunInNamespaceAsync(lab.PublicNamespace, () =>
            {
                var listener = NewSocket();
                listener.Bind(new IPEndPoint(lab.PublicHostAddress, 0));
                listener.Listen(16);
                return listener;
            }));

        /// <summary>Connects <paramref name="client"/> (one at a time) and returns the source address the listener saw.</summary>
        public async Task<IPEndPoint> ObserveAsync(Socket client, CancellationToken cancellationToken)
        {
            var accept = _listener.AcceptAsync(cancellationToken).AsTask();
            var error = await TryConnectAsync(client, EndPoint, WorkingTimeout);
            if (error is not null)
                throw new InvalidOperationException($"could not reach the observer at {EndPoint}: {error.Message}", error);
            var accepted = await accept.WaitAsync(WorkingTimeout, cancellationToken);
            _accepted.Add(accepted);
            return (IPEndPoint)accepted.RemoteEndPoint!;
        }

        public void Dispose()
        {
            foreach (var socket in _accepted)
                socket.Dispose();
            _listener.Dispose();
        }
    }
}

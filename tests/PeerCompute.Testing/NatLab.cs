using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace PeerCompute.Testing;

/// <summary>Which side of a <see cref="NatLab"/> gets a "hard" NAT (a fresh random port per connection).</summary>
public sealed class NatLabOptions
{
    /// <summary>
    /// The host's router masquerades with <c>--random-fully</c>: every connection leaves from a random port, so the
    /// address a peer observed on one connection is useless for another and hole punching through it fails.
    /// </summary>
    public bool HardNatHost { get; init; }

    /// <summary>The same for the home's router.</summary>
    public bool HardNatHome { get; init; }
}

/// <summary>
/// Two NATed networks and the "internet" between them, all on this machine, for the relay and hole-punching tests:
/// <code>
///   root namespace (the provider, dockerd)        home namespace (the user)
///        | HostLink, HostLinkAddress  /30              | eth0, HomeAddress  /24
///        | lan                                         | lan
///   hostRouter (NAT) wan .2 ──┐               ┌── wan .3 homeRouter (NAT)
///                             public namespace: bridge br0, PublicHostAddress .1 (the gateway / relay)
/// </code>
/// The root namespace gets only its veth and a route for the public /24 via the host router: nothing else of the
/// machine changes, its iptables (dockerd's) least of all. Each router forwards, masquerades what leaves through its
/// public leg (port-preserving, or <c>--random-fully</c> for a hard NAT), never forwards ports, and drops every new
/// connection arriving on its public leg, forwarded or to itself; connection tracking lets replies in, and a
/// simultaneous open works because each router saw its own side's SYN go out first. The public namespace routes the
/// two private subnets to their routers, the worst case of an internet that delivers packets for them: the routers'
/// drop rules, not a missing route, are what keep the inside unreachable.
/// <para>
/// Subnets come from one free third octet X: public 10.215.X.0/24, root ⇄ host router 10.216.X.0/30, home ⇄ home
/// router 10.217.X.0/24. X is picked against the root namespace's routes under a file lock, so labs in parallel (in
/// this process or another) never collide. Dispose removes the namespaces, the veth and the route; processes started
/// in the namespaces must end first (a namespace with a process inside outlives its name).
/// </para>
/// </summary>
public sealed class NatLab : IAsyncDisposable
{
    /// <summary>A router's leg on the public bridge, in its namespace.</summary>
    public const string RouterPublicLeg = "wan";

    /// <summary>A router's leg toward the network it serves, in its namespace.</summary>
    public const string RouterInsideLeg = "lan";

    /// <summary>The home namespace's only interface.</summary>
    public const string HomeInterface = "eth0";

    /// <summary>The public namespace's bridge, holding <see cref="PublicHostAddress"/>.</summary>
    public const string PublicBridge = "br0";

    private const string LockPath = "/tmp/peercompute-natlab.lock";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    private readonly NatLabOptions _options;
    private readonly int _x;
    private int _disposed;

    private NatLab(string id, int x, NatLabOptions options)
    {
        Id = id;
        _x = x;
        _options = options;
    }

    /// <summary>Six hex digits naming this lab's namespaces and root veth.</summary>
    public string Id { get; }

    public bool HardNatHost => _options.HardNatHost;

    public bool HardNatHome => _options.HardNatHome;

    /// <summary>The "internet": the bridge with the gateway's address and both routers' public legs.</summary>
    public string PublicNamespace => $"pcnat-{Id}-pub";

    public string HostRouterNamespace => $"pcnat-{Id}-hostrt";

    public string HomeRouterNamespace => $"pcnat-{Id}-homert";

    /// <summary>The user's machine: its only route out is its router.</summary>
    public string HomeNamespace => $"pcnat-{Id}-home";

    public IReadOnlyList<string> Namespaces => [PublicNamespace, HostRouterNamespace, HomeRouterNamespace, HomeNamespace];

    /// <summary>The root namespace's end of the veth to the host router (11 characters).</summary>
    public string HostLink => "pcnat" + Id;

    public string PublicSubnet => $"10.215.{_x}.0/24";

    /// <summary>Where the gateway / relay listens, on the public bridge.</summary>
    public IPAddress PublicHostAddress => Address(215, 1);

    /// <summary>What the public side sees as the source of the root namespace's connections.</summary>
    public IPAddress HostRouterPublicAddress => Address(215, 2);

    /// <summary>What the public side sees as the source of the home namespace's connections.</summary>
    public IPAddress HomeRouterPublicAddress => Address(215, 3);

    public string HostLinkSubnet => $"10.216.{_x}.0/30";

    /// <summary>The root namespace's address on <see cref="HostLink"/>: a provider may bind it; it is the source of its connections to the public subnet.</summary>
    public IPAddress HostLinkAddress => Address(216, 1);

    public IPAddress HostRouterLinkAddress => Address(216, 2);

    public string HomeSubnet => $"10.217.{_x}.0/24";

    public IPAddress HomeAddress => Address(217, 2);

    public IPAddress HomeRouterLinkAddress => Address(217, 1);

    private IPAddress Address(int second, int last) => new([10, (byte)second, (byte)_x, (byte)last]);

    /// <summary>
    /// The command prefix that runs a program in namespace <paramref name="ns"/>. nsenter rather than <c>ip netns exec</c>,
    /// which remounts /sys (hiding the cgroup mounts dockerd needs); both exec the program, so its pid is the program's.
    /// </summary>
    public static string[] Exec(string ns) => ["nsenter", $"--net=/var/run/netns/{ns}", "--"];

    /// <summary>
    /// Runs <paramref name="action"/> on a dedicated thread that joined namespace <paramref name="ns"/> (one of
    /// <see cref="Namespaces"/>): sockets and listeners it creates live there for good. See <see cref="NamespaceThread"/>.
    /// </summary>
    public Task<T> RunInNamespaceAsync<T>(string ns, Func<T> action)
    {
        if (!Namespaces.Contains(ns))
            throw new ArgumentException($"{ns} is not a namespace of NAT lab {Id}", nameof(ns));
        return NamespaceThread.RunAsync(ns, action);
    }

    public override string ToString() =>
        $"NAT lab {Id}: public {PublicSubnet} (gateway {PublicHostAddress}), host {HostLinkAddress} behind {HostRouterPublicAddress}" +
        $"{(HardNatHost ? " (hard NAT)" : "")}, home {HomeAddress} behind {HomeRouterPublicAddress}{(HardNatHome ? " (hard NAT)" : "")}";

    public static async Task<NatLab> CreateAsync(NatLabOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NatLabOptions();
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        // Held until the root route exists: from then on other labs see the subnet as taken.
        await using var claim = await AcquireLockAsync(cancellationToken).ConfigureAwait(false);
        var routes = await TestProcess.RunAsync("ip", ["-4", "route"], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (routes.ExitCode != 0)
            throw new InvalidOperationException($"ip -4 route failed: {routes}");
        var lab = new NatLab(id, PickThirdOctet(routes.StandardOutput), options);
        try
        {
            await lab.BuildAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            string leftovers = await lab.RemoveAsync().ConfigureAwait(false);
            if (leftovers.Length > 0)
                throw new InvalidOperationException($"creating {lab} failed ({ex.Message}), and removing it left {leftovers}", ex);
            throw;
        }
        return lab;
    }

    private static int PickThirdOctet(string routes)
    {
        int start = RandomNumberGenerator.GetInt32(256);
        for (int i = 0; i < 256; i++)
        {
            int x = (start + i) % 256;
            if (!Regex.IsMatch(routes, $@"(?<![0-9])10\.21[567]\.{x}\.", RegexOptions.CultureInvariant))
                return x;
        }
        throw new InvalidOperationException("no free 10.215-217.X subnets left for a NAT lab");
    }

    private async Task BuildAsync(CancellationToken ct)
    {
        string pub = PublicNamespace, hostRt = HostRouterNamespace, homeRt = HomeRouterNamespace, home = HomeNamespace;
        await IpBatchAsync(null, ct, [.. Namespaces.Select(ns => $"netns add {ns}")]).ConfigureAwait(false);

        // Before any interface exists (each copies "default" when created). IPv4 settings of a new namespace are copied
        // from the root's, so a distribution's strict rp_filter would come along: the paths here are symmetric, but a lab
        // should not depend on it. Only the routers and the public namespace forward.
        foreach (string ns in Namespaces)
        {
            await RunAsync([.. Exec(ns), "sysctl", "-q", "-w",
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                $"net.ipv4.ip_forward={(ns == home ? 0 : 1)}"], ct).ConfigureAwait(false);
        }

        // Every veth is created straight in its namespaces: only HostLink ever exists in the root namespace.
        await IpBatchAsync(null, ct,
            $"link add {HostLink} type veth peer name {RouterInsideLeg} netns {hostRt}",
            $"link add {RouterPublicLeg} netns {hostRt} type veth peer name hostrt netns {pub}",
            $"link add {RouterPublicLeg} netns {homeRt} type veth peer name homert netns {pub}",
            $"link add {RouterInsideLeg} netns {homeRt} type veth peer name {HomeInterface} netns {home}").ConfigureAwait(false);

        await IpBatchAsync(pub, ct,
            "link set lo up",
            $"link add {PublicBridge} type bridge",
            $"addr add {PublicHostAddress}/24 dev {PublicBridge}",
            $"link set {PublicBridge} up",
            $"link set hostrt master {PublicBridge}",
            $"link set homert master {PublicBridge}",
            "link set hostrt up",
            "link set homert up",
            $"route add {HostLinkSubnet} via {HostRouterPublicAddress}",
            $"route add {HomeSubnet} via {HomeRouterPublicAddress}").ConfigureAwait(false);
        await IpBatchAsync(hostRt, ct,
            "link set lo up",
            $"addr add {HostRouterLinkAddress}/30 dev {RouterInsideLeg}",
            $"addr add {HostRouterPublicAddress}/24 dev {RouterPublicLeg}",
            $"link set {RouterInsideLeg} up",
            $"link set {RouterPublicLeg} up",
            $"route add default via {PublicHostAddress}").ConfigureAwait(false);
        await IpBatchAsync(homeRt, ct,
            "link set lo up",
            $"addr add {HomeRouterLinkAddress}/24 dev {RouterInsideLeg}",
            $"addr add {HomeRouterPublicAddress}/24 dev {RouterPublicLeg}",
            $"link set {RouterInsideLeg} up",
            $"link set {RouterPublicLeg} up",
            $"route add default via {PublicHostAddress}").ConfigureAwait(false);
        await IpBatchAsync(home, ct,
            "link set lo up",
            $"addr add {HomeAddress}/24 dev {HomeInterface}",
            $"link set {HomeInterface} up",
            $"route add default via {HomeRouterLinkAddress}").ConfigureAwait(false);

        await RunAsync([.. Exec(hostRt), "iptables-restore"], ct, RouterRules(HardNatHost)).ConfigureAwait(false);
        await RunAsync([.. Exec(homeRt), "iptables-restore"], ct, RouterRules(HardNatHome)).ConfigureAwait(false);

        // Last, the root namespace's side: no IPv6 on the link (nothing but our IPv4 should cross it), and a route for the
        // public subnet only, so nothing else the machine sends ever takes this path.
        await RunAsync(["sysctl", "-q", "-e", "-w", $"net.ipv6.conf.{HostLink}.disable_ipv6=1"], ct).ConfigureAwait(false);
        await IpBatchAsync(null, ct,
            $"addr add {HostLinkAddress}/30 dev {HostLink}",
            $"link set {HostLink} up",
            $"route add {PublicSubnet} via {HostRouterLinkAddress} dev {HostLink}").ConfigureAwait(false);
    }

    /// <summary>
    /// A router's tables (it is a fresh namespace: nothing else is in them). New connections arriving on the public leg
    /// are dropped on INPUT too, like a home router with nothing listening on its WAN side: it stays silent instead of
    /// answering a peer's early hole-punching SYN with a reset.
    /// </summary>
    private static string RouterRules(bool hard) => $"""
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -o {RouterPublicLeg} -j MASQUERADE{(hard ? " --random-fully" : "")}
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i {RouterPublicLeg} -m conntrack --ctstate NEW -j DROP
        -A FORWARD -i {RouterPublicLeg} -m conntrack --ctstate NEW -j DROP
        COMMIT

        """;

    /// <summary>Removes everything; throws if something could not be removed (it would leak into later runs).</summary>
    public async ValueTask DisposeAsync()
    {
        string leftovers = await RemoveAsync().ConfigureAwait(false);
        if (leftovers.Length > 0)
            throw new InvalidOperationException($"disposing {this} left {leftovers}");
    }

    /// <summary>
    /// Removes whatever of the lab exists (creation may have stopped anywhere) and says what is still there. The route
    /// and veth go explicitly: deleting a namespace that a process still holds only removes its name, and would leave
    /// the veth pair (and with it the route) alive.
    /// </summary>
    private async Task<string> RemoveAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return "";
        // Exactly our route: never one with the same prefix that someone else added.
        await TestProcess.RunAsync("ip", ["route", "del", PublicSubnet, "via", HostRouterLinkAddress.ToString(), "dev", HostLink]).ConfigureAwait(false);
        await TestProcess.RunAsync("ip", ["link", "del", HostLink]).ConfigureAwait(false);
        foreach (string ns in Namespaces)
            await TestProcess.RunAsync("ip", ["netns", "del", ns]).ConfigureAwait(false);

        var left = new List<string>();
        if ((await TestProcess.RunAsync("ip", ["link", "show", "dev", HostLink]).ConfigureAwait(false)).ExitCode == 0)
            left.Add("link " + HostLink);
        string routes = (await TestProcess.RunAsync("ip", ["-4", "route", "show", PublicSubnet]).ConfigureAwait(false)).StandardOutput;
        if (routes.Contains(HostLink, StringComparison.Ordinal))
            left.Add("route " + routes.Trim());
        string namespaces = (await TestProcess.RunAsync("ip", ["netns", "list"]).ConfigureAwait(false)).StandardOutput;
        left.AddRange(Namespaces.Where(ns => Regex.IsMatch(namespaces, $"^{Regex.Escape(ns)}( |$)", RegexOptions.Multiline)).Select(ns => "namespace " + ns));
        return string.Join(", ", left);
    }

    private static Task IpBatchAsync(string? ns, CancellationToken ct, params string[] commands)
    {
        var stdin = new StringBuilder();
        foreach (string command in commands)
            stdin.Append(command).Append('\n');
        return RunAsync(ns is null ? ["ip", "-batch", "-"] : ["ip", "-n", ns, "-batch", "-"], ct, stdin.ToString());
    }

    private static async Task RunAsync(string[] command, CancellationToken ct, string? stdin = null)
    {
        var result = await TestProcess.RunAsync(command[0], command[1..], stdin: stdin, cancellationToken: ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed: {result}" + (stdin is null ? "" : $"\ninput:\n{stdin}"));
    }

    /// <summary>
    /// An exclusive lock on a file shared by every test process on the machine (other worktrees included), held while a
    /// lab picks its subnet and builds. The lock is the open file itself: it goes with the process, so a crashed run
    /// never leaves it taken.
    /// </summary>
    private static async Task<FileStream> AcquireLockAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(LockTimeout);
        while (true)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException)
            {
                // Another lab is being built (a second or so); poll, there is no notification for a file lock.
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"{LockPath} stayed locked for {LockTimeout.TotalSeconds} s");
                }
            }
        }
    }
}

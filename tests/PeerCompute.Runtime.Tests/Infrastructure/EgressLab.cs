using System.Collections.Concurrent;
using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// Stand-ins for everything a container might try to reach, all on this machine: a network namespace
/// joined to the host by a veth pair, holding an "internet" address (198.19.x.2, not in any blocked
/// range), two private ones (10.x.y.2, 10.x.y.3), a CGNAT one, a "metadata" one in 169.254/16 and a DNS
/// resolver at 10.x.y.53 answering <c>*.egress.test</c> with the internet address. The host side of the
/// veth (198.19.x.1) is one of "the host's own addresses", with a listener of its own. Every TCP
/// listener answers an HTTP GET with its name. Names and addresses are random so runs do not collide;
/// disposing removes the namespace (and with it the veth and the host routes).
/// </summary>
internal sealed class EgressLab : IAsyncDisposable
{
    public const int Port = 8080;
    private const int CloneNewNet = 0x40000000;

    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    private EgressLab(string id, int a, int b)
    {
        Id = id;
        Namespace = "pce-" + id;
        HostVeth = "pceh" + id;
        Internet = IPAddress.Parse($"198.19.{a}.2");
        HostAddress = IPAddress.Parse($"198.19.{a}.1");
        Private = IPAddress.Parse($"10.{a}.{b}.2");
        OtherPrivate = IPAddress.Parse($"10.{a}.{b}.3");
        Resolver = IPAddress.Parse($"10.{a}.{b}.53");
        Shared = IPAddress.Parse($"100.64.{a}.{b}");
        Metadata = IPAddress.Parse($"169.254.{a}.{b}");
    }

    public string Id { get; }
    public string Namespace { get; }
    public string HostVeth { get; }
    public IPAddress Internet { get; }
    public IPAddress HostAddress { get; }
    public IPAddress Private { get; }
    public IPAddress OtherPrivate { get; }
    public IPAddress Resolver { get; }
    public IPAddress Shared { get; }
    public IPAddress Metadata { get; }

    /// <summary>Names of the DNS questions the stand-in resolver received.</summary>
    public ConcurrentQueue<string> Questions { get; } = new();

    private readonly Dictionary<string, IPAddress> _hostTargets = [];

    /// <summary>Serves on another of the host's addresses (e.g. the bridge's own), as target <paramref name="name"/>.</summary>
    public void ServeOnHost(IPAddress address, string name)
    {
        ServeHttp(Listen(address), name);
        _hostTargets[name] = address;
    }

    /// <summary>The destinations a probe tries, by name.</summary>
    public IReadOnlyDictionary<string, IPAddress> Targets => new Dictionary<string, IPAddress>(_hostTargets)
    {
        ["internet"] = Internet,
        ["private"] = Private,
        ["otherprivate"] = OtherPrivate,
        ["resolverhttp"] = Resolver,
        ["shared"] = Shared,
        ["metadata"] = Metadata,
        ["hostaddr"] = HostAddress,
    };

    public static async Task<EgressLab> StartAsync()
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var lab = new EgressLab(id, Random.Shared.Next(1, 255), Random.Shared.Next(1, 255));
        try
        {
            await lab.SetUpAsync();
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
        return lab;
    }

    /// <summary>
    /// A shell script for the busybox image printing <c>name=&lt;reply&gt;</c> per target; a blocked one prints nc's error
    /// instead. (nc, not wget: the static busybox's wget crashes in the container.)
    /// </summary>
    public string ProbeScript(params string[] extra)
    {
        var script = new StringBuilder();
        foreach (var (name, address) in Targets)
            script.Append($"echo \"{name}=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} {Port} 2>&1 | tail -n 1)\"\n");
        foreach (string line in extra)
            script.Append(line).Append('\n');
        script.Append("echo probes-done\n");
        return script.ToString();
    }

    /// <summary>Parses the probe's output into name → reply (or error text).</summary>
    public static Dictionary<string, string> ParseProbe(string output)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq > 0)
                result[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }
        return result;
    }

    public static string Reply(string name) => "hello-" + name;

    private async Task SetUpAsync()
    {
        string nsVeth = "pcen" + Id;
        await Ip("netns", "add", Namespace);
        await Ip("link", "add", HostVeth, "type", "veth", "peer", "name", nsVeth);
        await Ip("link", "set", nsVeth, "netns", Namespace);
        await Ip("addr", "add", $"{HostAddress}/30", "dev", HostVeth);
        await Ip("link", "set", HostVeth, "up");
        await Ip("-n", Namespace, "link", "set", "lo", "up");
        await Ip("-n", Namespace, "addr", "add", $"{Internet}/30", "dev", nsVeth);
        await Ip("-n", Namespace, "link", "set", nsVeth, "up");
        await Ip("-n", Namespace, "route", "add", "default", "via", HostAddress.ToString());
        foreach (var extra in new[] { Private, OtherPrivate, Resolver, Shared, Metadata })
        {
            await Ip("-n", Namespace, "addr", "add", $"{extra}/32", "dev", "lo");
            // Host routes: the most specific match, so nothing of this ever takes the default route off the machine.
            await Ip("route", "add", $"{extra}/32", "via", Internet.ToString(), "dev", HostVeth);
        }

        var names = new Dictionary<IPAddress, string>
        {
            [Internet] = "internet", [Private] = "private", [OtherPrivate] = "otherprivate",
            [Resolver] = "resolverhttp", [Shared] = "shared", [Metadata] = "metadata",
        };
        InNamespace(() =>
        {
            foreach (var (address, name) in names)
                ServeHttp(Listen(address), name);
            ServeDns(BindUdp(new IPEndPoint(Resolver, 53)));
        });
        // The host's own address, in the host's namespace.
        ServeHttp(Listen(HostAddress), "hostaddr");
    }

    private Socket Listen(IPAddress address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(socket);
        socket.Bind(new IPEndPoint(address, Port));
        socket.Listen(16);
        return socket;
    }

    private Socket BindUdp(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _sockets.Add(socket);
        socket.Bind(endpoint);
        return socket;
    }

    private void ServeHttp(Socket listener, string name)
    {
        byte[] body = Encoding.ASCII.GetBytes(Reply(name));
        byte[] response = [.. Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];
        _loops.Add(Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        try
                        {
                            var buffer = new byte[4096];
                            int total = 0;
                            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                            while (total < buffer.Length && !Encoding.ASCII.GetString(buffer, 0, total).Contains("\r\n\r\n", StringComparison.Ordinal))
                            {
                                int n = await client.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
                                if (n == 0)
                                    break;
                                total += n;
                            }
                            await client.SendAsync(response, SocketFlags.None);
                            client.Shutdown(SocketShutdown.Both);
                        }
                        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                        {
                        }
                    }
                });
            }
        }));
    }

    /// <summary>Answers A questions for *.egress.test with the internet address; anything else gets an empty answer.</summary>
    private void ServeDns(Socket socket)
    {
        _loops.Add(Task.Run(async () =>
        {
            var buffer = new byte[1500];
            while (!_stop.IsCancellationRequested)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                if (DnsAnswer(buffer.AsSpan(0, received.ReceivedBytes), Internet, Questions) is { } answer)
                    await socket.SendToAsync(answer, SocketFlags.None, received.RemoteEndPoint);
            }
        }));
    }

    internal static byte[]? DnsAnswer(ReadOnlySpan<byte> query, IPAddress address, ConcurrentQueue<string> questions)
    {
        if (query.Length < 12 || query[4] != 0 || query[5] != 1)
            return null;
        int at = 12;
        var labels = new List<string>();
        while (at < query.Length && query[at] != 0)
        {
            int length = query[at];
            if (length > 63 || at + 1 + length > query.Length)
                return null;
            labels.Add(Encoding.ASCII.GetString(query.Slice(at + 1, length)));
            at += 1 + length;
        }
        if (at + 5 > query.Length)
            return null;
        int questionEnd = at + 5;
        int type = (query[at + 1] << 8) | query[at + 2];
        string name = string.Join('.', labels).ToLowerInvariant();
        questions.Enqueue(name);
        bool ours = name.EndsWith(".egress.test", StringComparison.Ordinal);
        bool answer = ours && type == 1;
        var response = new List<byte>();
        response.AddRange(query[..2].ToArray());
        response.AddRange([0x81, (byte)(ours ? 0x80 : 0x83)]); // response, recursion desired+available; NXDOMAIN for other names
        response.AddRange([0, 1, 0, (byte)(answer ? 1 : 0), 0, 0, 0, 0]);
        response.AddRange(query[12..questionEnd].ToArray());
        if (answer)
        {
            response.AddRange([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            response.AddRange(address.GetAddressBytes());
        }
        return [.. response];
    }

    /// <summary>Runs <paramref name="action"/> on a fresh thread moved into the lab's namespace: sockets it creates belong there.</summary>
    private void InNamespace(Action action)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            int fd = open($"/run/netns/{Namespace}", 0);
            if (fd < 0)
            {
                error = new Win32Exception(Marshal.GetLastPInvokeError(), $"open /run/netns/{Namespace}");
                return;
            }
            try
            {
                // Only this thread moves; it ends right after, so nothing else ever runs in the namespace.
                if (setns(fd, CloneNewNet) != 0)
                {
                    error = new Win32Exception(Marshal.GetLastPInvokeError(), "setns");
                    return;
                }
                action();
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                close(fd);
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null)
            throw new InvalidOperationException($"setting up listeners in {Namespace}: {error.Message}", error);
    }

    private static async Task Ip(params string[] arguments) => (await Cli.RunAsync("ip", arguments)).EnsureSuccess("ip " + string.Join(' ', arguments));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var socket in _sockets)
            socket.Dispose();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }
        // Deleting the namespace deletes the veth pair, whose host side takes the routes and the host address with it.
        await Cli.RunAsync("ip", ["netns", "del", Namespace]);
        await Cli.RunAsync("ip", ["link", "del", HostVeth]);
        _stop.Dispose();
    }

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}

using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A network namespace made by the test (loopback up), optionally joined to the host by a veth pair on a
/// /30 of its own. Nothing in it can reach any other network: there is no route out but the veth's /30.
/// </summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>
    /// The command prefix that runs a program inside. nsenter, not <c>ip netns exec</c>: that one remounts /sys,
    /// which hides the cgroup mounts dockerd needs. Either execs the program, so its pid is the program's.
    /// </summary>
    public string[] Exec => ["nsenter", $"--net=/var/run/netns/{Name}", "--"];

    /// <summary>The host end of the veth (null without one); cutting it cuts the namespace off.</summary>
    public string? HostLink { get; private set; }

    public string HostAddress { get; private set; } = "";

    public string InsideAddress { get; private set; } = "";

    public static async Task<NetworkNamespace> CreateAsync()
    {
        var ns = new NetworkNamespace("pcf-" + Guid.NewGuid().ToString("N")[..8]);
        await RunAsync("ip", "netns", "add", ns.Name);
        try
        {
            await ns.RunInsideAsync("ip", "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }
    }

    /// <summary>A veth pair host ⇄ namespace on a free 10.x.y.z/30 (checked against the host's routes).</summary>
    public async Task ConnectAsync()
    {
        string routes = (await TestProcess.RunAsync("ip", ["-4", "route"])).StandardOutput;
        int third = Random.Shared.Next(0, 256);
        for (int i = 0; i < 256 && routes.Contains($"10.213.{third}.", StringComparison.Ordinal); i++)
            third = (third + 1) % 256;
        string suffix = Name[4..];
        HostLink = "pch" + suffix;
        string inside = "pcn" + suffix;
        HostAddress = $"10.213.{third}.1";
        InsideAddress = $"10.213.{third}.2";
        await RunAsync("ip", "link", "add", HostLink, "type", "veth", "peer", "name", inside);
        await RunAsync("ip", "link", "set", inside, "netns", Name);
        await RunAsync("ip", "addr", "add", HostAddress + "/30", "dev", HostLink);
        await RunAsync("ip", "link", "set", HostLink, "up");
        await RunInsideAsync("ip", "addr", "add", InsideAddress + "/30", "dev", inside);
        await RunInsideAsync("ip", "link", "set", inside, "up");
    }

    public Task CutAsync() => RunAsync("ip", "link", "set", HostLink!, "down");

    public Task RestoreAsync() => RunAsync("ip", "link", "set", HostLink!, "up");

    public Task RunInsideAsync(params string[] command) => RunAsync([.. Exec, .. command]);

    public static async Task RunAsync(params string[] command)
    {
        var result = await TestProcess.RunAsync(command[0], command[1..]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed: {result}");
    }

    public async ValueTask DisposeAsync()
    {
        if (HostLink is not null)
            await TestProcess.RunAsync("ip", ["link", "delete", HostLink]);
        await TestProcess.RunAsync("ip", ["netns", "delete", Name]);
    }
}

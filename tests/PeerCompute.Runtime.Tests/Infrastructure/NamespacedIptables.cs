using PeerCompute.Runtime.Firewall;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// A network namespace of the test's own with wrapper scripts that run iptables, ip6tables and their -restore inside
/// it: an <see cref="EgressFirewall"/> given <see cref="Options"/> changes that namespace's tables, never the host's.
/// Disposing removes the namespace (and its tables) and the scripts.
/// </summary>
internal sealed class NamespacedIptables : IAsyncDisposable
{
    private static readonly string[] Tools = ["iptables", "iptables-restore", "ip6tables", "ip6tables-restore"];

    private NamespacedIptables(string name, string folder)
    {
        Namespace = name;
        Folder = folder;
    }

    public string Namespace { get; }
    public string Folder { get; }

    /// <summary>Filtered egress with no DNS exceptions, through this namespace's tools.</summary>
    public EgressOptions Options => new()
    {
        DnsResolvers = [],
        IptablesCommand = Path.Combine(Folder, "iptables"),
        Ip6tablesCommand = Path.Combine(Folder, "ip6tables"),
    };

    public static async Task<NamespacedIptables> CreateAsync(string prefix)
    {
        string name = prefix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        (await Cli.RunAsync("ip", ["netns", "add", name])).EnsureSuccess("ip netns add");
        var created = new NamespacedIptables(name, Directory.CreateTempSubdirectory("pc-iptables-ns-").FullName);
        try
        {
            // Published ports of an engine in the namespace bind 127.0.0.1 there.
            (await Cli.RunAsync("ip", ["-n", name, "link", "set", "lo", "up"])).EnsureSuccess("ip link set lo up");
            foreach (string tool in Tools)
            {
                string path = Path.Combine(created.Folder, tool);
                await File.WriteAllTextAsync(path, $"#!/bin/sh\nexec ip netns exec {name} {tool} \"$@\"\n");
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            }
        }
        catch
        {
            await created.DisposeAsync();
            throw;
        }
        return created;
    }

    /// <summary>Runs <paramref name="tool"/> (iptables or ip6tables) in the namespace; fails the test when it fails.</summary>
    public async Task<string> RunAsync(string tool, params string[] arguments)
        => (await Cli.RunAsync("ip", ["netns", "exec", Namespace, tool, .. arguments])).EnsureSuccess(tool + " " + string.Join(' ', arguments)).Stdout;

    /// <summary>The filter table as <c>-S</c> prints it.</summary>
    public Task<string> SaveAsync(string tool = "iptables") => RunAsync(tool, "-S");

    public async ValueTask DisposeAsync()
    {
        await Cli.RunAsync("ip", ["netns", "del", Namespace]);
        Directory.Delete(Folder, recursive: true);
    }
}

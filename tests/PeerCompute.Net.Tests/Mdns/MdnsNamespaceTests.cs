using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Mdns;
using PeerCompute.Net.Tests.Interop;

namespace PeerCompute.Net.Tests.Mdns;

/// <summary>
/// Our mDNS against js-libp2p's, only ever inside a network namespace the test creates (loopback with multicast on),
/// so nothing leaves the machine. Our sockets enter the namespace by being created on a thread that joined it.
/// </summary>
public class MdnsNamespaceTests
{
    private const int TestTimeoutMs = 180_000;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(60);

    [Test, Timeout(TestTimeoutMs)]
    public async Task Js_discovers_our_unsolicited_announcement_and_dials_it(CancellationToken cancellationToken)
    {
        await using var ns = await TestNetworkNamespace.CreateAsync(cancellationToken);
        // js queries once at its start and then only every 60 s: it can only learn of us from our unsolicited announcement.
        await using var js = await JsPeer.StartAsync(
            new JsPeerOptions { Mdns = true, MdnsIntervalMs = 60_000, NetworkNamespace = ns.Name }, cancellationToken);
        using var identity = PeerIdentity.Generate();
        await using var host = new Libp2pHost(identity);
        Multiaddr listening = null!;
        await using var mdns = new MdnsService(identity.PeerId, () => [listening], new MdnsServiceOptions { QueryInterval = Timeout.InfiniteTimeSpan });
        InNamespace(ns.Name, () =>
        {
            listening = host.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")).GetAwaiter().GetResult();
            mdns.Start();
        });

        var found = await js.WaitForEventAsync(
            e => JsPeer.EventName(e) == "discovered" && Str(e, "peer") == identity.PeerId.ToString(), EventTimeout, 0, cancellationToken);
        await Assert.That(found.GetProperty("addrs").EnumerateArray().Select(a => a.GetString())).Contains(listening.ToString());

        // Discovery does not dial; the js side dials what it found, and our host (in the namespace) answers.
        var connection = await js.SendAsync("dial", new JsonObject { ["addr"] = $"{listening}/p2p/{identity.PeerId}" }, cancellationToken);
        await Assert.That(Str(connection, "peer")).IsEqualTo(identity.PeerId.ToString());
        var ping = await js.SendAsync("ping", new JsonObject { ["peer"] = identity.PeerId.ToString() }, cancellationToken);
        await Assert.That(ping.GetProperty("rtt").GetDouble() >= 0).IsTrue();
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task We_discover_a_js_peer_and_ignore_ourselves(CancellationToken cancellationToken)
    {
        await using var ns = await TestNetworkNamespace.CreateAsync(cancellationToken);
        await using var js = await JsPeer.StartAsync(
            new JsPeerOptions { Mdns = true, MdnsIntervalMs = 60_000, NetworkNamespace = ns.Name }, cancellationToken);

        using var identity = PeerIdentity.Generate();
        var ours = Multiaddr.Parse("/ip4/127.0.0.1/tcp/9");
        await using var mdns = new MdnsService(identity.PeerId, () => [ours], new MdnsServiceOptions { QueryInterval = Timeout.InfiniteTimeSpan });
        var seen = new List<MdnsDiscoveredPeer>();
        var jsFound = new TaskCompletionSource<MdnsDiscoveredPeer>(TaskCreationOptions.RunContinuationsAsynchronously);
        mdns.PeerDiscovered += peer =>
        {
            lock (seen) seen.Add(peer);
            if (peer.PeerId.ToString() == js.PeerId) jsFound.TrySetResult(peer);
        };
        InNamespace(ns.Name, mdns.Start);

        // Start() queried once; js may have answered before our handler ran on a busy machine, so ask on demand too.
        await mdns.QueryAsync(cancellationToken);
        var peer = await jsFound.Task.WaitAsync(EventTimeout, cancellationToken);
        await Assert.That(peer.Addresses.Select(a => a.ToString())).IsEquivalentTo(js.Addrs);
        lock (seen)
            foreach (var p in seen)
                if (p.PeerId == identity.PeerId)
                    throw new InvalidOperationException("our own announcement was reported as a discovered peer");
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;

    /// <summary>Runs <paramref name="action"/> on a fresh thread that joined the named network namespace; sockets it creates stay there.</summary>
    private static void InNamespace(string name, Action action)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{name}");
                if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns({name}) failed: errno {Marshal.GetLastPInvokeError()}");
                action();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new InvalidOperationException($"in namespace {name}: {failure.Message}", failure);
    }

    private const int CloneNewNet = 0x40000000;

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}

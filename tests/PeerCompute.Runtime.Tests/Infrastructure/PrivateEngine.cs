namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>The runtime tests' <see cref="PrivateDockerd"/>: started once the shared engine is ready, holding the test image.</summary>
internal static class PrivateEngine
{
    /// <summary>
    /// Outside a namespace: a bridge of its own, no iptables. With <paramref name="netns"/> (a namespace the test made) it runs
    /// inside it with iptables on, managing that namespace's own tables and docker0 instead of the host's. nsenter execs
    /// dockerd in place (signals reach it); not <c>ip netns exec</c>, whose fresh /sys hides the cgroups.
    /// </summary>
    public static async Task<PrivateDockerd> StartAsync(string? netns = null)
    {
        await TestEngine.EnsureReadyAsync();
        return await PrivateDockerd.StartAsync(new PrivateDockerdOptions
        {
            Wrapper = netns is null ? [] : ["nsenter", $"--net=/run/netns/{netns}"],
            OwnBridge = netns is null,
            Iptables = netns is not null,
            Image = TestEngine.BusyboxImage,
        });
    }
}

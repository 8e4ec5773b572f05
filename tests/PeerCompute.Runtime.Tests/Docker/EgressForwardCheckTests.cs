using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Installed rules are not enough: forwarded traffic must really reach them. Real iptables and ip6tables, in a network
/// namespace of each test's own (<see cref="NamespacedIptables"/>), shaped as the engine would leave them or not: a
/// fresh namespace is what an nftables-only engine leaves (no FORWARD jump to DOCKER-USER). The runtime runs on the
/// host's engine; only its firewall calls go into the namespace.
/// </summary>
public sealed class EgressForwardCheckTests
{
    private const string Owner = "12D3KooWOwnerForwardCheck";

    [Test]
    public async Task Without_a_FORWARD_jump_to_DOCKER_USER_deploys_are_refused_with_the_reason_until_it_is_there()
    {
        await using var netns = await NamespacedIptables.CreateAsync("pce-fwd");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { Egress = netns.Options });
        var runtime = harness.Runtime;
        await Assert.That(runtime.EgressProblem).IsNotNull();
        await Assert.That(runtime.EgressProblem!).StartsWith(EgressFirewall.BypassedPrefix);
        await Assert.That(runtime.EgressProblem!).Contains("iptables: FORWARD has no jump to DOCKER-USER");
        await Assert.That(runtime.EgressProblem!).Contains("nftables");

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("unfiltered"), Owner));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.EgressUnavailable);
        await Assert.That(refused.Message).Contains("deploy refused");
        await Assert.That(refused.Message).Contains("FORWARD has no jump to DOCKER-USER");
        await Assert.That(await runtime.ListAsync(Owner)).IsEmpty();

        // What the engine does when it filters with iptables: FORWARD goes through DOCKER-USER first.
        await netns.RunAsync("iptables", "-I", "FORWARD", "1", "-j", "DOCKER-USER");
        await runtime.ReconcileAsync();
        await Assert.That(runtime.EgressProblem).IsNull();
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("filtered"), Owner);
        await Assert.That(deployed.State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task A_rule_that_accepts_the_bridge_before_the_filter_is_named_in_either_family()
    {
        await using var netns = await NamespacedIptables.CreateAsync("pce-fwd");
        const string bridge = "pcfwdtest0";
        var firewall = new EgressFirewall(bridge, netns.Options);
        await netns.RunAsync("iptables", "-N", "DOCKER-USER");
        await netns.RunAsync("iptables", "-A", "FORWARD", "-j", "DOCKER-USER");
        await firewall.EnsureAsync();
        await firewall.VerifyAsync();

        // Replies, and other interfaces, ahead of DOCKER-USER change nothing for the bridge.
        await netns.RunAsync("iptables", "-I", "FORWARD", "1", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT");
        await netns.RunAsync("iptables", "-I", "FORWARD", "1", "-i", "docker0", "-j", "ACCEPT");
        await firewall.VerifyAsync();

        await netns.RunAsync("iptables", "-I", "FORWARD", "1", "-i", bridge, "-j", "ACCEPT");
        var v4 = await Assert.ThrowsAsync<RuntimeException>(() => firewall.VerifyAsync());
        await Assert.That(v4!.Code).IsEqualTo(RuntimeErrorCode.EgressUnavailable);
        await Assert.That(v4.Message).Contains($"iptables: the FORWARD rule '-i {bridge} -j ACCEPT' comes before FORWARD's jump to DOCKER-USER");
        await netns.RunAsync("iptables", "-D", "FORWARD", "-i", bridge, "-j", "ACCEPT");
        await firewall.VerifyAsync();

        // An engine that manages ip6tables has DOCKER-USER there too: then FORWARD must jump to it as well.
        await netns.RunAsync("ip6tables", "-N", "DOCKER-USER");
        await firewall.EnsureAsync();
        var v6 = await Assert.ThrowsAsync<RuntimeException>(() => firewall.VerifyAsync());
        await Assert.That(v6!.Message).Contains("ip6tables: FORWARD has no jump to DOCKER-USER");
    }

    [Test]
    public async Task IPv6_rules_refuse_the_ways_to_IPv4_through_IPv6_and_read_back_as_current()
    {
        await using var netns = await NamespacedIptables.CreateAsync("pce-fwd");
        var firewall = new EgressFirewall("pcfwdtest0", netns.Options);
        await Assert.That(await firewall.EnsureAsync()).IsTrue();
        string v6 = await netns.SaveAsync("ip6tables");
        // As ip6tables prints them (the IPv4-mapped prefix in dotted form).
        foreach (string range in new[] { "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0.0.0.0/96", "2002::/16" })
            await Assert.That(v6).Contains($"-A {firewall.Chain} -d {range} -j REJECT --reject-with icmp6-adm-prohibited");
        // What was read back is what is wanted: nothing to change on the next check.
        await Assert.That(await firewall.EnsureAsync()).IsFalse();
    }
}

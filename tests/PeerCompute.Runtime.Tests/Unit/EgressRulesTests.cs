using System.Net;
using PeerCompute.Runtime.Firewall;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class EgressRulesTests
{
    private const string Chain = "PEERCOMPUTE-EGRESS";
    private const string Bridge = "peercompute0";

    private static readonly IPAddress[] Resolvers = [IPAddress.Parse("192.168.1.1")];

    // What `iptables -S` prints on a host where the engine runs and nothing of ours is installed.
    private static readonly string[] Fresh =
    [
        "-P INPUT ACCEPT", "-P FORWARD DROP", "-P OUTPUT ACCEPT",
        "-N DOCKER", "-N DOCKER-USER",
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -i peercompute0 ! -o peercompute0 -j ACCEPT",
        "-A DOCKER-USER -j RETURN",
    ];

    [Test]
    public async Task Chain_returns_replies_then_allowed_ranges_then_dns_then_rejects_host_private_and_metadata()
    {
        var rules = EgressRules.ChainRules(IpFamily.V4, Chain, [IPNetwork.Parse("10.20.0.0/16")], Resolvers);
        string[] expected =
        [
            "-A PEERCOMPUTE-EGRESS -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "-A PEERCOMPUTE-EGRESS -d 10.20.0.0/16 -j RETURN",
            "-A PEERCOMPUTE-EGRESS -d 192.168.1.1/32 -p udp -m udp --dport 53 -j RETURN",
            "-A PEERCOMPUTE-EGRESS -d 192.168.1.1/32 -p tcp -m tcp --dport 53 -j RETURN",
            "-A PEERCOMPUTE-EGRESS -m addrtype --dst-type LOCAL -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 0.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 10.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 100.64.0.0/10 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 127.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 169.254.0.0/16 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 172.16.0.0/12 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -d 192.168.0.0/16 -j REJECT --reject-with icmp-admin-prohibited",
            "-A PEERCOMPUTE-EGRESS -m addrtype --dst-type BROADCAST -j DROP",
            "-A PEERCOMPUTE-EGRESS -m addrtype --dst-type MULTICAST -j DROP",
        ];
        await Assert.That(rules).IsEquivalentTo(expected, TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    public async Task An_apps_chain_returns_traffic_back_to_its_own_bridge_before_any_refusal()
    {
        var rules = EgressRules.ChainRules(IpFamily.V4, "PCEGRESS-pca0123456789ab", [], [], sameBridge: "pca0123456789ab");

        await Assert.That(rules[0]).IsEqualTo("-A PCEGRESS-pca0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN");
        await Assert.That(rules[1]).IsEqualTo("-A PCEGRESS-pca0123456789ab -o pca0123456789ab -j RETURN");
        await Assert.That(rules.Skip(2)).IsEquivalentTo(EgressRules.ChainRules(IpFamily.V4, "PCEGRESS-pca0123456789ab", [], []).Skip(1), TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }

    [Test]
    public async Task IPv6_chain_blocks_unique_local_and_link_local_and_takes_only_v6_allowances()
    {
        var rules = EgressRules.ChainRules(IpFamily.V6, Chain,
            [IPNetwork.Parse("10.20.0.0/16"), IPNetwork.Parse("fd12::/16")], [IPAddress.Parse("192.168.1.1"), IPAddress.Parse("fd00::53")]);
        await Assert.That(rules).Contains("-A PEERCOMPUTE-EGRESS -d fd12::/16 -j RETURN");
        await Assert.That(rules).Contains("-A PEERCOMPUTE-EGRESS -d fd00::53/128 -p udp -m udp --dport 53 -j RETURN");
        await Assert.That(rules).Contains("-A PEERCOMPUTE-EGRESS -d fc00::/7 -j REJECT --reject-with icmp6-adm-prohibited");
        await Assert.That(rules).Contains("-A PEERCOMPUTE-EGRESS -d fe80::/10 -j REJECT --reject-with icmp6-adm-prohibited");
        await Assert.That(rules).Contains("-A PEERCOMPUTE-EGRESS -m addrtype --dst-type LOCAL -j REJECT --reject-with icmp6-adm-prohibited");
        await Assert.That(rules.Any(r => r.Contains("10.20.0.0") || r.Contains("192.168.1.1") || r.Contains("BROADCAST"))).IsFalse();
    }

    [Test]
    public async Task IPv6_chain_blocks_the_ways_to_IPv4_through_IPv6()
    {
        var rules = EgressRules.ChainRules(IpFamily.V6, Chain, [], []);
        foreach (string range in new[] { "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0.0.0.0/96", "2002::/16" })
            await Assert.That(rules).Contains($"-A PEERCOMPUTE-EGRESS -d {range} -j REJECT --reject-with icmp6-adm-prohibited");
        // The rules and the code's checks go by one list.
        foreach (var range in BlockedRanges.V6)
            await Assert.That(rules).Contains($"-A PEERCOMPUTE-EGRESS -d {EgressRules.Format(range)} -j REJECT --reject-with icmp6-adm-prohibited");
    }

    [Test]
    [Arguments("64:ff9b::a9fe:a9fe", true)]      // NAT64 of 169.254.169.254
    [Arguments("64:ff9b:1::a00:1", true)]        // local-use NAT64 of 10.0.0.1
    [Arguments("::ffff:169.254.169.254", true)]  // IPv4-mapped
    [Arguments("2002:c0a8:101::1", true)]        // 6to4 of 192.168.1.1
    [Arguments("fd00::1", true)]
    [Arguments("169.254.169.254", true)]
    [Arguments("192.168.1.20", false)]           // allowed below
    [Arguments("::ffff:192.168.1.20", false)]    // the same address, mapped: allowed as well
    [Arguments("2606:4700:4700::1111", false)]
    [Arguments("1.1.1.1", false)]
    public async Task Blocked_ranges_cover_the_ways_to_IPv4_through_IPv6(string address, bool blocked)
        => await Assert.That(BlockedRanges.IsBlocked(IPAddress.Parse(address), [IPNetwork.Parse("192.168.1.20/32")])).IsEqualTo(blocked);

    [Test]
    public async Task Forwarded_traffic_passes_the_chain_only_when_FORWARD_reaches_DOCKER_USER_before_any_accept()
    {
        string jump = "-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS";
        string[] installed = [.. Fresh.Where(l => l != "-A DOCKER-USER -j RETURN"), "-N PEERCOMPUTE-EGRESS", jump, "-A DOCKER-USER -j RETURN"];
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, installed)).IsNull();

        // An nftables-only engine: no jump from FORWARD at all.
        string[] noJump = installed.Where(l => l != "-A FORWARD -j DOCKER-USER").ToArray();
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, noJump)!).Contains("FORWARD has no jump to DOCKER-USER");

        // Ahead of the jump: replies, other interfaces and refusals are harmless; an accept of the bridge is not.
        string[] harmless = ["-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "-A FORWARD -i docker0 -j ACCEPT",
            "-A FORWARD ! -i peercompute0 -j ACCEPT", "-A FORWARD -i eth+ -j ACCEPT", "-A FORWARD -j LOG", "-A FORWARD -p icmp -j DROP"];
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, [.. harmless, .. installed])).IsNull();
        foreach (string bypass in new[] { "-A FORWARD -i peercompute0 -j ACCEPT", "-A FORWARD -j ACCEPT", "-A FORWARD -i peer+ -j ACCEPT", "-A FORWARD -j ufw-before-forward" })
            await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, [bypass, .. installed])!).Contains($"'{bypass["-A FORWARD ".Length..]}' comes before");

        // Inside DOCKER-USER, a RETURN ahead of our jump sends the traffic back to the engine's accepts.
        string[] returned = ["-A DOCKER-USER -j RETURN", .. installed];
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, returned)!).Contains("'-j RETURN' comes before the jump to PEERCOMPUTE-EGRESS");
        // Another provider's jump for its own bridge ahead of ours is fine.
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V4, Bridge, Chain, ["-A DOCKER-USER -i other0 -j PCEGRESS-other0", .. installed])).IsNull();

        // IPv6 without the engine's chain: our jump in FORWARD itself is the check.
        string[] v6 = ["-P FORWARD ACCEPT", "-N PEERCOMPUTE-EGRESS", "-A FORWARD -i peercompute0 -j PEERCOMPUTE-EGRESS"];
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V6, Bridge, Chain, v6)).IsNull();
        await Assert.That(EgressRules.ForwardProblem(IpFamily.V6, Bridge, Chain, ["-P FORWARD ACCEPT", "-N PEERCOMPUTE-EGRESS"])!).Contains("ip6tables: FORWARD has no jump to PEERCOMPUTE-EGRESS");
    }

    [Test]
    public async Task Apply_declares_only_its_own_chain_and_puts_both_jumps_first()
    {
        string script = EgressRules.ApplyScript(IpFamily.V4, Bridge, Chain, [], Resolvers, Fresh);
        string[] lines = script.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await Assert.That(lines[0]).IsEqualTo("*filter");
        await Assert.That(lines[1]).IsEqualTo(":PEERCOMPUTE-EGRESS - [0:0]");
        // Declaring DOCKER-USER would flush the engine's chain.
        await Assert.That(lines.Count(l => l.StartsWith(':'))).IsEqualTo(1);
        await Assert.That(lines).Contains("-I DOCKER-USER 1 -i peercompute0 -j PEERCOMPUTE-EGRESS");
        await Assert.That(lines).Contains("-I INPUT 1 -i peercompute0 -j PEERCOMPUTE-EGRESS");
        await Assert.That(lines.Any(l => l.StartsWith("-D "))).IsFalse();
        await Assert.That(lines[^1]).IsEqualTo("COMMIT");
    }

    [Test]
    public async Task Applying_again_deletes_earlier_jumps_so_exactly_one_of_each_stays()
    {
        string[] installed =
        [
            .. Fresh,
            "-N PEERCOMPUTE-EGRESS",
            "-A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS",
            "-A DOCKER-USER -j ACCEPT-SOMETHING",
            "-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS",
        ];
        string script = EgressRules.ApplyScript(IpFamily.V4, Bridge, Chain, [], Resolvers, installed);
        await Assert.That(script).Contains("-D INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS\n");
        await Assert.That(script).Contains("-D DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS\n");
        await Assert.That(script.IndexOf("-D DOCKER-USER", StringComparison.Ordinal)).IsLessThan(script.IndexOf("-I DOCKER-USER", StringComparison.Ordinal));
    }

    [Test]
    public async Task Without_the_engine_chain_v4_creates_it_and_v6_hooks_forward_directly()
    {
        string[] bare = ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"];
        string v4 = EgressRules.ApplyScript(IpFamily.V4, Bridge, Chain, [], [], bare);
        await Assert.That(v4).Contains(":DOCKER-USER - [0:0]\n");
        await Assert.That(v4).Contains("-I DOCKER-USER 1 -i peercompute0 -j PEERCOMPUTE-EGRESS\n");
        string v6 = EgressRules.ApplyScript(IpFamily.V6, Bridge, Chain, [], [], bare);
        await Assert.That(v6).DoesNotContain("DOCKER-USER");
        await Assert.That(v6).Contains("-I FORWARD 1 -i peercompute0 -j PEERCOMPUTE-EGRESS\n");
    }

    [Test]
    public async Task Installed_rules_are_current_only_when_chain_and_first_jumps_match()
    {
        var rules = EgressRules.ChainRules(IpFamily.V4, Chain, [], Resolvers);
        string[] good =
        [
            "-P INPUT ACCEPT", "-N DOCKER-USER", "-N PEERCOMPUTE-EGRESS",
            "-A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS",
            "-A INPUT -j SOMETHING-ELSE",
            "-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS",
            "-A DOCKER-USER -j RETURN",
            .. rules,
        ];
        await Assert.That(EgressRules.IsCurrent(IpFamily.V4, Bridge, Chain, [], Resolvers, good)).IsTrue();
        // The resolver changed (DHCP): the DNS exception must move.
        await Assert.That(EgressRules.IsCurrent(IpFamily.V4, Bridge, Chain, [], [IPAddress.Parse("192.168.1.254")], good)).IsFalse();
        // The engine re-created DOCKER-USER after a restart: our jump is gone.
        string[] noForwardJump = good.Where(l => l != "-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS").ToArray();
        await Assert.That(EgressRules.IsCurrent(IpFamily.V4, Bridge, Chain, [], Resolvers, noForwardJump)).IsFalse();
        // Something was inserted before our jump.
        string[] overtaken = ["-A INPUT -j ACCEPT", .. good];
        await Assert.That(EgressRules.IsCurrent(IpFamily.V4, Bridge, Chain, [], Resolvers, overtaken)).IsFalse();
        // Someone flushed our chain.
        string[] flushed = good.Where(l => !l.StartsWith("-A PEERCOMPUTE-EGRESS ", StringComparison.Ordinal)).ToArray();
        await Assert.That(EgressRules.IsCurrent(IpFamily.V4, Bridge, Chain, [], Resolvers, flushed)).IsFalse();
    }

    [Test]
    public async Task Remove_deletes_every_jump_then_the_chain_and_is_nothing_when_nothing_is_installed()
    {
        string[] installed =
        [
            .. Fresh, "-N PEERCOMPUTE-EGRESS",
            "-A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS",
            "-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS",
            "-A PEERCOMPUTE-EGRESS -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        ];
        string? script = EgressRules.RemoveScript(Chain, installed);
        await Assert.That(script).IsEqualTo(
            "*filter\n-D INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS\n-D DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS\n-F PEERCOMPUTE-EGRESS\n-X PEERCOMPUTE-EGRESS\nCOMMIT\n");
        await Assert.That(EgressRules.RemoveScript(Chain, Fresh)).IsNull();
    }

    [Test]
    [Arguments("10.1.2.3", "10.1.2.3/32")]
    [Arguments("192.168.1.7/24", "192.168.1.0/24")]
    [Arguments("0.0.0.0/0", "0.0.0.0/0")]
    [Arguments("fd00::1/8", "fd00::/8")]
    [Arguments(" 172.16.5.0/24 ", "172.16.5.0/24")]
    public async Task Ranges_parse_with_host_bits_cleared(string text, string expected)
    {
        await Assert.That(EgressRules.TryParseRange(text, out var range)).IsTrue();
        await Assert.That(EgressRules.Format(range)).IsEqualTo(expected);
    }

    [Test]
    [Arguments("")]
    [Arguments("10.1.2.3/33")]
    [Arguments("10.1.2/24")]
    [Arguments("example.com")]
    [Arguments("10.0.0.0/-1")]
    [Arguments("fe80::1%eth0")]
    public async Task Malformed_ranges_are_refused(string text)
        => await Assert.That(EgressRules.TryParseRange(text, out _)).IsFalse();

    [Test]
    public async Task Resolv_conf_yields_non_loopback_nameservers()
    {
        const string text = "# generated\nsearch lan\nnameserver 192.168.1.1\nnameserver 127.0.0.53\nnameserver\tfd00::1\nnameserver fe80::1%eth0\noptions edns0\n";
        var servers = EgressRules.ParseResolvConf(text);
        await Assert.That(servers.Select(s => s.ToString())).IsEquivalentTo(["192.168.1.1", "fd00::1", "fe80::1"], TUnit.Assertions.Enums.CollectionOrdering.Matching);
    }
}

using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// `peercomputed firewall apply|show|remove` with the published binary, inside a network namespace the test makes
/// (its own iptables tables), driven by the config file's egress keys.
/// </summary>
[NotInParallel("system")]
internal sealed class FirewallCommandTests
{
    [Test]
    public async Task Apply_installs_the_configured_rules_idempotently_show_lists_them_and_remove_takes_them_all_away()
    {
        using var provider = await PeerNode.CreateAsync("firewall");
        File.WriteAllText(Path.Combine(provider.Home, "peercomputed.json"), """
            { "allow-egress": ["192.168.1.20/32", "fd12::/16"], "egress": "filtered" }
            """);
        string netns = "pce-cli" + Convert.ToHexStringLower(global::System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        var made = await TestProcess.RunAsync("ip", ["netns", "add", netns]);
        await Assert.That(made.ExitCode).IsEqualTo(0).Because(made.ToString());
        try
        {
            Task<ProcessResult> InNamespace(params string[] args) =>
                TestProcess.RunAsync("ip", ["netns", "exec", netns, PeerNode.Peercomputed, .. args], provider.Environment, TimeSpan.FromSeconds(60));

            var applied = await InNamespace("firewall", "apply");
            await Assert.That(applied.ExitCode).IsEqualTo(0).Because(applied.ToString());
            await Assert.That(applied.StandardOutput).Contains("egress rules installed (chain PEERCOMPUTE-EGRESS)");
            // A fresh namespace is what no engine (or an nftables-only one) leaves: said, not an error, as at boot before Docker.
            await Assert.That(applied.StandardOutput).Contains("note: the egress rules would be bypassed: iptables: FORWARD has no jump to DOCKER-USER");
            var again = await InNamespace("firewall", "apply");
            await Assert.That(again.StandardOutput).Contains("already in place");

            var shown = (await InNamespace("firewall", "show")).StandardOutput;
            await Assert.That(shown).Contains("iptables: -A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS");
            await Assert.That(shown).Contains("iptables: -A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS");
            await Assert.That(shown).Contains("iptables: -A PEERCOMPUTE-EGRESS -d 192.168.1.20/32 -j RETURN");
            await Assert.That(shown).Contains("iptables: -A PEERCOMPUTE-EGRESS -d 169.254.0.0/16 -j REJECT --reject-with icmp-admin-prohibited");
            await Assert.That(shown).Contains("ip6tables: -A PEERCOMPUTE-EGRESS -d fd12::/16 -j RETURN");
            await Assert.That(shown).Contains("ip6tables: -A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS");
            // Once each, however often applied.
            await Assert.That(shown.Split('\n').Count(l => l.StartsWith("iptables: -A INPUT ", StringComparison.Ordinal))).IsEqualTo(1);

            var removed = await InNamespace("firewall", "remove");
            await Assert.That(removed.ExitCode).IsEqualTo(0).Because(removed.ToString());
            await Assert.That(removed.StandardOutput).Contains("egress rules removed");
            await Assert.That((await InNamespace("firewall", "show")).StandardOutput).Contains("no egress rules installed");
            foreach (string tool in new[] { "iptables", "ip6tables" })
            {
                var saved = await TestProcess.RunAsync("ip", ["netns", "exec", netns, tool, "-S"]);
                await Assert.That(saved.StandardOutput).DoesNotContain("PEERCOMPUTE");
            }
            await Assert.That((await InNamespace("firewall", "remove")).StandardOutput).Contains("no egress rules were installed");
        }
        finally
        {
            await TestProcess.RunAsync("ip", ["netns", "del", netns]);
        }
    }

    [Test]
    public async Task Without_root_the_commands_fail_saying_what_is_needed()
    {
        using var provider = await PeerNode.CreateAsync("firewall-noroot");
        var result = await TestProcess.RunAsync("setpriv", ["--bounding-set", "-all", "--inh-caps", "-all", "--", PeerNode.Peercomputed, "firewall", "show"], provider.Environment);
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("needs root or CAP_NET_ADMIN");
    }
}

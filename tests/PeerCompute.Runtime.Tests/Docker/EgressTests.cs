using System.Net;
using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// The egress firewall against real iptables and the engine: a container on the runtime's network tries
/// every stand-in of <see cref="EgressLab"/> (all on this machine) before, with and after the rules.
/// One at a time: each test puts its own chain's jump first in the host's INPUT and DOCKER-USER, so two running
/// together would see each other's jump move theirs down and take it for a change.
/// </summary>
[NotInParallel("host-iptables")]
public sealed class EgressTests
{
    private const string Owner = "12D3KooWOwnerEgress";
    private static readonly string[] Blocked = ["private", "otherprivate", "resolverhttp", "shared", "metadata", "hostaddr", "bridgegw"];

    [Test]
    public async Task Filtered_egress_blocks_host_private_and_metadata_keeps_internet_and_dns_and_goes_away_on_remove()
    {
        await using var lab = await EgressLab.StartAsync();
        string network = "pcenet" + lab.Id;
        try
        {
            await CreateNetworkAsync(network, lab);

            // Without rules everything answers: a failure later is the firewall's doing, not the lab's.
            var before = EgressLab.ParseProbe(await ProbeAsync(network, lab));
            foreach (string name in lab.Targets.Keys)
                await Assert.That(before.GetValueOrDefault(name)).IsEqualTo(EgressLab.Reply(name));

            await using (var harness = await RuntimeHarness.StartAsync(o => o with
            {
                NetworkName = network,
                Egress = new EgressOptions { DnsResolvers = [lab.Resolver] },
            }))
            {
                var firewall = harness.Runtime.Firewall!;
                await Assert.That(harness.Runtime.EgressProblem).IsNull();
                string v4 = await SaveAsync("iptables");
                await Assert.That(v4).Contains($"-A DOCKER-USER -i {network} -j {firewall.Chain}");
                await Assert.That(v4).Contains($"-A INPUT -i {network} -j {firewall.Chain}");
                await Assert.That(await SaveAsync("ip6tables")).Contains($"-A INPUT -i {network} -j {firewall.Chain}");

                // A deployment of the runtime (IP literals only: its resolver is the host's, which the test never asks).
                var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("egress",
                    RuntimeHarness.Shell(lab.ProbeScript() + RuntimeHarness.ServeHttp)), Owner);
                string logs = await Eventually.WaitAsync(async () =>
                {
                    var lines = new List<string>();
                    await foreach (var entry in harness.Runtime.StreamLogsAsync(deployed.Id, Owner))
                        lines.Add(entry.Text);
                    string text = string.Join('\n', lines);
                    return text.Contains("probes-done", StringComparison.Ordinal) ? text : null;
                }, "the deployed probe to finish");
                // Its published port still answers the provider: replies to connections made to a container pass.
                await Assert.That(await Http.GetWhenReadyAsync(deployed.HostPort!.Value)).Contains("peercompute test page");
                var inside = EgressLab.ParseProbe(logs);
                await Assert.That(inside["internet"]).IsEqualTo(EgressLab.Reply("internet"));
                foreach (string name in Blocked)
                    await Assert.That(inside[name]).DoesNotContain("hello-");

                // Name resolution goes through the engine's resolver to the (private) upstream, which stays reachable on port 53 only.
                var named = EgressLab.ParseProbe(await ProbeAsync(network, lab,
                    "echo \"dns=$(nslookup -type=a web.egress.test 2>&1 | tr '\\n' ' ')\""));
                await Assert.That(named["dns"]).Contains($"Address: {lab.Internet}");
                await Assert.That(lab.Questions).Contains("web.egress.test");
                await Assert.That(named["resolverhttp"]).DoesNotContain("hello-");

                await Assert.That(await firewall.RemoveAsync()).IsTrue();
                await Assert.That(await SaveAsync("iptables")).DoesNotContain(firewall.Chain);
                await Assert.That(await SaveAsync("ip6tables")).DoesNotContain(firewall.Chain);
                await Assert.That(await firewall.ShowAsync()).IsEmpty();
                var after = EgressLab.ParseProbe(await ProbeAsync(network, lab));
                await Assert.That(after["private"]).IsEqualTo(EgressLab.Reply("private"));
                await Assert.That(after["hostaddr"]).IsEqualTo(EgressLab.Reply("hostaddr"));
            }
        }
        finally
        {
            await CleanUpAsync(network);
        }
    }

    [Test]
    public async Task An_allowed_range_opens_exactly_that_range()
    {
        await using var lab = await EgressLab.StartAsync();
        string network = "pcenet" + lab.Id;
        try
        {
            await CreateNetworkAsync(network, lab);
            await using var harness = await RuntimeHarness.StartAsync(o => o with
            {
                NetworkName = network,
                Egress = new EgressOptions { DnsResolvers = [lab.Resolver], AllowedRanges = [new IPNetwork(lab.Private, 32)] },
            });
            var probe = EgressLab.ParseProbe(await ProbeAsync(network, lab));
            await Assert.That(probe["internet"]).IsEqualTo(EgressLab.Reply("internet"));
            await Assert.That(probe["private"]).IsEqualTo(EgressLab.Reply("private"));
            foreach (string name in Blocked.Where(n => n != "private"))
                await Assert.That(probe[name]).DoesNotContain("hello-");
            await harness.Runtime.Firewall!.RemoveAsync();
        }
        finally
        {
            await CleanUpAsync(network);
        }
    }

    [Test]
    public async Task Rules_lost_to_an_engine_restart_are_put_back_by_reconcile()
    {
        string network = "pcenet" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        try
        {
            await using var harness = await RuntimeHarness.StartAsync(o => o with { NetworkName = network, Egress = new EgressOptions { DnsResolvers = [] } });
            var firewall = harness.Runtime.Firewall!;
            string jump = $"-i {network} -j {firewall.Chain}";
            // What a re-created DOCKER-USER looks like: our jump gone, the chain still there.
            (await Cli.RunAsync("iptables", ["-D", "DOCKER-USER", .. jump.Split(' ')])).EnsureSuccess("iptables -D");
            await Assert.That(await SaveAsync("iptables")).DoesNotContain($"-A DOCKER-USER {jump}");

            await harness.Runtime.ReconcileAsync();
            string v4 = await SaveAsync("iptables");
            await Assert.That(v4).Contains($"-A DOCKER-USER {jump}");
            // Still exactly one jump per hook, and applying again when nothing changed changes nothing.
            await Assert.That(v4.Split('\n').Count(l => l.EndsWith($"-j {firewall.Chain}", StringComparison.Ordinal))).IsEqualTo(2);
            await Assert.That(await firewall.EnsureAsync()).IsFalse();
            await firewall.RemoveAsync();
        }
        finally
        {
            await CleanUpAsync(network);
        }
    }

    [Test]
    public async Task Rules_made_before_the_engine_starts_are_kept_by_it_and_survive_its_restart()
    {
        // An engine of its own in a namespace of its own: its iptables are that namespace's, so it can be restarted.
        await using var netns = await NamespacedIptables.CreateAsync("pce-eng");
        var egress = netns.Options;
        const string bridge = "peercompute0";
        string jump = $"-A DOCKER-USER -i {bridge} -j {EgressRules.DefaultChain}";

        // As at boot with a unit ordered before the engine: the rules come first, DOCKER-USER is ours to create.
        var firewall = new EgressFirewall(bridge, egress);
        await Assert.That(await firewall.EnsureAsync()).IsTrue();
        await using var engine = await PrivateEngine.StartAsync(netns.Namespace);
        string started = await netns.SaveAsync();
        await Assert.That(FirstRule(started, "FORWARD")).IsEqualTo("-A FORWARD -j DOCKER-USER");
        await Assert.That(FirstRule(started, "DOCKER-USER")).IsEqualTo(jump);
        await Assert.That(await firewall.EnsureAsync()).IsFalse();

        // The runtime on that engine creates its network and finds the rules in place.
        await using (var harness = await RuntimeHarness.StartAsync(o => o with { NetworkName = bridge, Egress = egress }, engine: engine))
        {
            await Assert.That(harness.Runtime.EgressProblem).IsNull();
            var status = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox(), Owner);
            await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        }

        await engine.StopDockerdAsync();
        await engine.StartDockerdAsync();
        string restarted = await netns.SaveAsync();
        await Assert.That(FirstRule(restarted, "FORWARD")).IsEqualTo("-A FORWARD -j DOCKER-USER");
        await Assert.That(FirstRule(restarted, "DOCKER-USER")).IsEqualTo(jump);
        await Assert.That(await firewall.EnsureAsync()).IsFalse();
    }

    private static string? FirstRule(string saved, string chain)
        => saved.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith($"-A {chain} ", StringComparison.Ordinal));

    [Test]
    public async Task Two_providers_ensuring_the_same_rules_at_once_neither_fail_nor_duplicate_jumps()
    {
        // No engine network needed: rules may name an interface that does not exist (yet).
        string bridge = "pcenet" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        var options = new EgressOptions { DnsResolvers = [IPAddress.Parse("10.9.9.53")] };
        var first = new EgressFirewall(bridge, options);
        var second = new EgressFirewall(bridge, options);
        try
        {
            // Separate objects, as two processes would be: no shared in-process lock.
            await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? first : second).EnsureAsync()));
            await first.EnsureAsync();
            string v4 = await SaveAsync("iptables");
            await Assert.That(v4.Split('\n').Count(l => l.EndsWith($"-j {first.Chain}", StringComparison.Ordinal))).IsEqualTo(2);
            await Assert.That(await second.EnsureAsync()).IsFalse();
        }
        finally
        {
            await first.RemoveAsync();
        }
        await Assert.That(await SaveAsync("iptables")).DoesNotContain(first.Chain);
    }

    [Test]
    public async Task Without_permission_to_manage_iptables_deploys_are_refused_unless_egress_is_open()
    {
        // Root without CAP_NET_ADMIN: what an unprivileged daemon meets.
        string folder = Directory.CreateTempSubdirectory("pc-egress-noperm-").FullName;
        string network = "pcenet" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        try
        {
            foreach (string tool in new[] { "iptables", "iptables-restore", "ip6tables", "ip6tables-restore" })
            {
                string path = Path.Combine(folder, tool);
                await File.WriteAllTextAsync(path, $"#!/bin/sh\nexec setpriv --bounding-set -all --inh-caps -all -- {tool} \"$@\"\n");
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            }
            var denied = new EgressOptions
            {
                DnsResolvers = [],
                IptablesCommand = Path.Combine(folder, "iptables"),
                Ip6tablesCommand = Path.Combine(folder, "ip6tables"),
            };
            await using (var harness = await RuntimeHarness.StartAsync(o => o with { NetworkName = network, Egress = denied }))
            {
                await Assert.That(harness.Runtime.EgressProblem).Contains("needs root or CAP_NET_ADMIN");
                var refused = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(RuntimeHarness.Busybox(), Owner));
                await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.EgressUnavailable);
                await Assert.That(refused.Message).Contains("deploy refused");
                await Assert.That(await harness.Runtime.ListAsync(Owner)).IsEmpty();
                await Assert.That(harness.Runtime.GetCapacity().UsedCpuMillicores).IsEqualTo(0);
            }

            // The user chose open egress: no firewall is managed, deploys go ahead.
            await using (var open = await RuntimeHarness.StartAsync(o => o with { NetworkName = network, Egress = denied with { Open = true } }))
            {
                await Assert.That(open.Runtime.Firewall).IsNull();
                var status = await open.Runtime.DeployAsync(RuntimeHarness.Busybox(), Owner);
                await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
            await CleanUpAsync(network);
        }
    }

    private static async Task CreateNetworkAsync(string network, EgressLab lab)
    {
        (await Cli.DockerAsync("network", "create", "--driver", "bridge", "--label", "io.peercompute.managed=true",
            "-o", $"com.docker.network.bridge.name={network}", "-o", "com.docker.network.bridge.enable_icc=false", network)).EnsureSuccess("docker network create");
        var gateway = (await Cli.DockerAsync("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network)).EnsureSuccess("docker network inspect");
        lab.ServeOnHost(IPAddress.Parse(gateway.Stdout.Trim()), "bridgegw");
    }

    /// <summary>A throwaway container on the network, resolving names through the lab's stand-in resolver only.</summary>
    private static async Task<string> ProbeAsync(string network, EgressLab lab, params string[] extra)
    {
        var result = await Cli.RunAsync("docker", ["run", "--rm", "--network", network, "--dns", lab.Resolver.ToString(), "--cap-drop", "ALL",
            "--label", "io.peercompute.managed=true", "--label", "io.peercompute.instance=test-egress-probe",
            TestEngine.BusyboxImage, "sh", "-c", lab.ProbeScript(extra)], TimeSpan.FromMinutes(2));
        result.EnsureSuccess("probe container");
        await Assert.That(result.Stdout).Contains("probes-done");
        return result.Stdout;
    }

    private static async Task<string> SaveAsync(string tool) => (await Cli.RunAsync(tool, ["-S"])).EnsureSuccess(tool + " -S").Stdout;

    private static async Task CleanUpAsync(string network)
    {
        // The firewall of a failed test: remove whatever of ours is left, then the network.
        await new EgressFirewall(network, new EgressOptions()).RemoveAsync();
        var ids = (await Cli.DockerAsync("ps", "-aq", "--filter", $"network={network}")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
            await Cli.DockerAsync(["rm", "-f", .. ids]);
        await Cli.DockerAsync("network", "rm", network);
    }
}

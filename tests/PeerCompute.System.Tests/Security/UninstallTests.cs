using PeerCompute.System.Tests.Infrastructure;
using PeerCompute.System.Tests.Release;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// build/install.sh --uninstall after a real install: services, the provider's containers, its egress rules, then the
/// files. docker, systemctl and iptables are stand-ins on PATH that record their calls, so the shared engine and
/// the host's firewall are not touched; the installed peercomputed itself runs `firewall remove`.
/// </summary>
internal sealed class UninstallTests
{
    [Test]
    public async Task Uninstall_stops_services_removes_containers_then_firewall_rules_then_the_programs()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        string prefix = ReleaseScripts.NewFolder("uninstall");
        string bin = Path.Combine(prefix, "bin");
        var installed = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--archive", Path.Combine(release, $"peercompute-{ReleaseScripts.HostRid}.tar.gz")]);
        await Assert.That(installed.ExitCode).IsEqualTo(0).Because(installed.ToString());

        string stubs = ReleaseScripts.NewFolder("stubs");
        string calls = Path.Combine(stubs, "calls.log");
        // iptables -S shows our chain with its two jumps, so `firewall remove` has something to remove.
        Stub(stubs, "docker", calls, "case \"$1\" in ps) echo c0ffee1; echo c0ffee2 ;; esac");
        Stub(stubs, "systemctl", calls, "");
        Stub(stubs, "iptables", calls, "[ \"$*\" = \"-w 10 -t filter -S\" ] && printf '%s\\n' '-P INPUT ACCEPT' '-N DOCKER-USER' '-N PEERCOMPUTE-EGRESS' "
            + "'-A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS' '-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS'");
        Stub(stubs, "iptables-restore", calls, "cat >> " + calls);
        Stub(stubs, "ip6tables", calls, "");
        Stub(stubs, "ip6tables-restore", calls, "");
        string units = ReleaseScripts.NewFolder("units");
        await File.WriteAllTextAsync(Path.Combine(units, "peercomputed.service"), "[Service]\n");

        var result = await ReleaseScripts.InstallAsync(["--uninstall", "--bin-dir", bin], new Dictionary<string, string?>
        {
            ["PATH"] = stubs + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["PEERCOMPUTE_SYSTEMD_DIR"] = units,
        });

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        string log = await File.ReadAllTextAsync(calls);
        // In this order: the service, the containers (so none runs on unfiltered), the rules.
        int service = log.IndexOf("systemctl disable --now peercomputed", StringComparison.Ordinal);
        int containers = log.IndexOf("docker rm -f c0ffee1 c0ffee2", StringComparison.Ordinal);
        int rules = log.IndexOf("-D DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS", StringComparison.Ordinal);
        await Assert.That(service).IsGreaterThanOrEqualTo(0).Because(log);
        await Assert.That(containers).IsGreaterThan(service).Because(log);
        await Assert.That(rules).IsGreaterThan(containers).Because(log);
        await Assert.That(log).Contains("-D INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS");
        await Assert.That(log).Contains("-X PEERCOMPUTE-EGRESS");
        await Assert.That(result.StandardOutput).Contains("egress rules removed");
        await Assert.That(File.Exists(Path.Combine(units, "peercomputed.service"))).IsFalse();
        await Assert.That(Directory.GetFileSystemEntries(bin)).IsEmpty();
        await Assert.That(Directory.Exists(Path.Combine(prefix, "share", "peercompute"))).IsFalse();
        await Assert.That(File.Exists(Path.Combine(prefix, "share", "bash-completion", "completions", "peerctl"))).IsFalse();
    }

    private static void Stub(string folder, string name, string calls, string body)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, $"#!/bin/sh\necho \"{name} $*\" >> {calls}\n{body}\nexit 0\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}

using PeerCompute.System.Tests.Infrastructure;
using PeerCompute.System.Tests.Release;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// build/install.sh --uninstall after a real install: services, this provider's containers (those labelled with its
/// PeerId), its egress rules, then the files. systemctl and iptables are stand-ins on PATH that record their calls,
/// so the host's firewall is not touched; the installed peercomputed itself runs `firewall remove` and `id`. docker
/// is a stand-in too, except in the two-instance test, which runs containers on the real engine.
/// </summary>
internal sealed class UninstallTests
{
    private static string ArchiveName => $"peercompute-{ReleaseScripts.HostRid}.tar.gz";

    [Test]
    public async Task Uninstall_stops_services_removes_containers_then_firewall_rules_then_the_programs()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        string prefix = ReleaseScripts.NewFolder("uninstall");
        string bin = Path.Combine(prefix, "bin");
        var installed = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--archive", Path.Combine(release, ArchiveName)]);
        await Assert.That(installed.ExitCode).IsEqualTo(0).Because(installed.ToString());
        var (home, peerId) = await NewIdentityAsync(bin);

        string stubs = ReleaseScripts.NewFolder("stubs");
        string calls = Path.Combine(stubs, "calls.log");
        // The engine holds two containers of this provider (asked for by its PeerId) and none of anyone else's.
        Stub(stubs, "docker", calls, $"case \"$*\" in ps*\"io.peercompute.instance={peerId}\"*) echo c0ffee1; echo c0ffee2 ;; esac");
        StubFirewall(stubs, calls);
        // The home comes from the service's unit, as with a provider installed as a service.
        string units = ReleaseScripts.NewFolder("units");
        await File.WriteAllTextAsync(Path.Combine(units, "peercomputed.service"), $"[Service]\nEnvironment=PEERCOMPUTE_HOME={home}\n");

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

    [Test]
    public async Task Without_the_providers_identity_uninstall_removes_no_container()
    {
        string bin = await InstalledAsync();
        string stubs = ReleaseScripts.NewFolder("stubs");
        string calls = Path.Combine(stubs, "calls.log");
        // Any listing answers with containers: which of them would be this provider's is unknown.
        Stub(stubs, "docker", calls, "case \"$1\" in ps) echo c0ffee1 ;; esac");
        StubFirewall(stubs, calls);
        string empty = ReleaseScripts.NewFolder("no-identity");

        var result = await ReleaseScripts.InstallAsync(["--uninstall", "--bin-dir", bin, "--home", empty], new Dictionary<string, string?>
        {
            ["PATH"] = stubs + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["PEERCOMPUTE_SYSTEMD_DIR"] = ReleaseScripts.NewFolder("units"),
        });

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(result.StandardOutput).Contains($"no provider identity in {empty} (give --home DIR): no container removed");
        string log = await File.ReadAllTextAsync(calls);
        await Assert.That(log).DoesNotContain("docker rm");
        await Assert.That(Directory.GetFileSystemEntries(bin)).IsEmpty();
    }

    /// <summary>
    /// Two providers' containers on one engine (another provider with its own state folder, or the quick start):
    /// uninstalling one removes its own and leaves the other's, and keeps the shared egress rules they still need.
    /// </summary>
    [Test]
    public async Task Uninstall_removes_only_its_own_instances_containers_from_a_shared_engine()
    {
        string bin = await InstalledAsync();
        var (home, peerId) = await NewIdentityAsync(bin);
        string otherInstance = "uninstall-test-other-" + Convert.ToHexStringLower(global::System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));

        string stubs = ReleaseScripts.NewFolder("stubs");
        string calls = Path.Combine(stubs, "calls.log");
        string allowed = Path.Combine(stubs, "containers-of-this-test");
        StubFirewall(stubs, calls);
        // The real docker, guarded: the engine is shared with other tests, so `rm` goes through only for this test's
        // containers (others are recorded, not removed) and the shared network is never removed.
        string docker = RealProgram("docker");
        Stub(stubs, "docker", calls, $$"""
            case "$1" in
              network) [ "$2" = rm ] && exit 0 ;;
              rm)
                shift; args=""
                for a in "$@"; do
                  case "$a" in -*) args="$args $a" ;; *) grep -q "^$a" {{allowed}} && args="$args $a" || echo "refused rm $a" >> {{calls}} ;; esac
                done
                exec {{docker}} rm $args ;;
            esac
            exec {{docker}} "$@"
            """);
        string own = await CreateContainerAsync(peerId);
        string other = await CreateContainerAsync(otherInstance);
        try
        {
            await File.WriteAllLinesAsync(allowed, [own, other]);

            // The provider's home as its peerctl/peercomputed would take it (the same as --home DIR).
            var result = await ReleaseScripts.InstallAsync(["--uninstall", "--bin-dir", bin], new Dictionary<string, string?>
            {
                ["PEERCOMPUTE_HOME"] = home,
                ["PATH"] = stubs + ":" + Environment.GetEnvironmentVariable("PATH"),
                ["PEERCOMPUTE_SYSTEMD_DIR"] = ReleaseScripts.NewFolder("units"),
            });

            await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
            await Assert.That(await ExistsAsync(own)).IsFalse().Because(result.ToString());
            await Assert.That(await ExistsAsync(other)).IsTrue().Because(result.ToString());
            await Assert.That(result.StandardOutput).Contains("kept the docker network peercompute0 and the egress firewall rules");
            string log = await File.ReadAllTextAsync(calls);
            await Assert.That(log).DoesNotContain("-X PEERCOMPUTE-EGRESS");
            await Assert.That(Directory.GetFileSystemEntries(bin)).IsEmpty();
        }
        finally
        {
            await TestProcess.RunAsync(docker, ["rm", "-f", own, other]);
        }
    }

    /// <summary>The release installed from its archive into a new folder's bin/; returns that bin.</summary>
    private static async Task<string> InstalledAsync()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        string bin = Path.Combine(ReleaseScripts.NewFolder("uninstall"), "bin");
        var installed = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--archive", Path.Combine(release, ArchiveName)]);
        if (installed.ExitCode != 0)
            throw new InvalidOperationException($"install.sh failed: {installed}");
        return bin;
    }

    /// <summary>A new provider identity made by the installed peerctl: its state folder and PeerId.</summary>
    private static async Task<(string Home, string PeerId)> NewIdentityAsync(string bin)
    {
        string home = Path.Combine(ReleaseScripts.NewFolder("provider"), "home");
        var env = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home };
        var init = await TestProcess.RunAsync(Path.Combine(bin, "peerctl"), ["init"], env);
        var id = await TestProcess.RunAsync(Path.Combine(bin, "peerctl"), ["id"], env);
        if (init.ExitCode != 0 || id.ExitCode != 0)
            throw new InvalidOperationException($"peerctl init/id failed: {init} {id}");
        return (home, id.StandardOutput.Trim());
    }

    /// <summary>A created (not started) container labelled as the given instance's, as the runtime labels them.</summary>
    private static async Task<string> CreateContainerAsync(string instance)
    {
        var created = await TestProcess.RunAsync(RealProgram("docker"), ["create", "--label", "io.peercompute.managed=true",
            "--label", $"io.peercompute.instance={instance}", "--label", "io.peercompute.deployment=0123456789abcdef",
            Deploy.DeployWorkflowTests.TestImage, "true"]);
        if (created.ExitCode != 0)
            throw new InvalidOperationException($"docker create failed: {created}");
        return created.StandardOutput.Trim();
    }

    private static async Task<bool> ExistsAsync(string container) =>
        (await TestProcess.RunAsync(RealProgram("docker"), ["inspect", "--format", "{{.Id}}", container])).ExitCode == 0;

    private static string RealProgram(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not on PATH");

    /// <summary>systemctl and iptables stand-ins; iptables -S shows our chain with its two jumps, so `firewall
    /// remove` has something to remove.</summary>
    private static void StubFirewall(string stubs, string calls)
    {
        Stub(stubs, "systemctl", calls, "");
        Stub(stubs, "iptables", calls, "[ \"$*\" = \"-w 10 -t filter -S\" ] && printf '%s\\n' '-P INPUT ACCEPT' '-N DOCKER-USER' '-N PEERCOMPUTE-EGRESS' "
            + "'-A INPUT -i peercompute0 -j PEERCOMPUTE-EGRESS' '-A DOCKER-USER -i peercompute0 -j PEERCOMPUTE-EGRESS'");
        Stub(stubs, "iptables-restore", calls, "cat >> " + calls);
        Stub(stubs, "ip6tables", calls, "");
        Stub(stubs, "ip6tables-restore", calls, "");
    }

    private static void Stub(string folder, string name, string calls, string body)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, $"#!/bin/sh\necho \"{name} $*\" >> {calls}\n{body}\nexit 0\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}

using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// build/quickstart.sh, the README's first command, with the published programs: ends with the demo page fetched
/// over verified HTTPS through the gateway, is safe to run again, and `stop` ends all it started.
/// </summary>
[NotInParallel("system")]
internal sealed partial class QuickstartTests
{
    [Test]
    public async Task Start_serves_the_demo_page_over_https_a_rerun_keeps_it_and_stop_ends_everything()
    {
        string dir = Path.Combine(ReleaseScripts.NewFolder("quickstart"), "state");
        int[] ports = FreePorts.Many(3);
        var env = new Dictionary<string, string?>
        {
            ["PEERCOMPUTE_QUICKSTART_DIR"] = dir,
            ["QUICKSTART_HTTPS_PORT"] = $"{ports[0]}",
            ["QUICKSTART_TUNNEL_PORT"] = $"{ports[1]}",
            ["QUICKSTART_PROVIDER_PORT"] = $"{ports[2]}",
            ["QUICKSTART_BIN"] = Artifacts.Folder(ReleaseScripts.HostRid),
            ["PEERCOMPUTE_HOME"] = null,
            ["PEERCOMPUTE_IDENTITY_KEY"] = null,
        };
        string script = ReleaseScripts.Script("quickstart.sh");
        try
        {
            var start = await TestProcess.RunAsync("bash", [script], env, TimeSpan.FromMinutes(6));
            await Assert.That(start.ExitCode).IsEqualTo(0).Because(start.ToString());
            await Assert.That(start.StandardOutput).Contains("Hello from Peer Compute");
            string url = PublicUrl().Match(start.StandardOutput).Value;
            await Assert.That(url).StartsWith("https://hello-");
            await Assert.That(url).EndsWith($".peercompute.localhost:{ports[0]}/");

            // Independently of the script: the page over HTTPS, checked against the gateway's own certificate.
            string cert = Path.Combine(dir, "gateway", "gateway", "self-signed.crt");
            string host = new Uri(url).Host;
            var fetch = await TestProcess.RunAsync("curl", ["-fsS", "-m", "20", "--cacert", cert, "--resolve", $"{host}:{ports[0]}:127.0.0.1", url]);
            await Assert.That(fetch.ExitCode).IsEqualTo(0).Because(fetch.ToString());
            await Assert.That(fetch.StandardOutput).Contains("This page was served through Peer Compute");

            int gatewayPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "run", "gateway.pid")));
            int providerPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "run", "provider.pid")));

            var again = await TestProcess.RunAsync("bash", [script], env, TimeSpan.FromMinutes(6));
            await Assert.That(again.ExitCode).IsEqualTo(0).Because(again.ToString());
            await Assert.That(again.StandardOutput).Contains($"gateway already running (pid {gatewayPid})");
            await Assert.That(again.StandardOutput).Contains($"provider already running (pid {providerPid})");
            await Assert.That(again.StandardOutput).Contains("hello already deployed and running");
            await Assert.That(PublicUrl().Match(again.StandardOutput).Value).IsEqualTo(url);

            string providerId = (await TestProcess.RunAsync(Path.Combine(Artifacts.Folder(ReleaseScripts.HostRid), "peerctl"), ["id"],
                new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = Path.Combine(dir, "provider"), ["PEERCOMPUTE_IDENTITY_KEY"] = null })).StandardOutput.Trim();
            await Assert.That(await ContainersOfAsync(providerId)).IsNotEmpty();

            var stop = await TestProcess.RunAsync("bash", [script, "stop"], env, TimeSpan.FromMinutes(3));
            await Assert.That(stop.ExitCode).IsEqualTo(0).Because(stop.ToString());
            await Assert.That(stop.StandardOutput).Contains("removed the deployment 'hello'");
            await Assert.That(IsRunning(gatewayPid)).IsFalse();
            await Assert.That(IsRunning(providerPid)).IsFalse();
            await Assert.That(await ContainersOfAsync(providerId)).IsEmpty();
        }
        finally
        {
            // Whatever happened above, nothing keeps running after the test.
            await TestProcess.RunAsync("bash", [script, "stop"], env, TimeSpan.FromMinutes(3));
        }
    }

    [Test]
    [Arguments("docker dockerd", "Docker is not installed")]
    [Arguments("dockerd", "the docker client is installed but not the engine (dockerd)")]
    public async Task Without_root_on_a_machine_without_Dockers_engine_it_prints_the_commands_that_install_it(string hidden, string says)
    {
        // A fresh machine, as far as the script can tell: in a mount namespace of its own, the hidden programs are
        // empty files and /run (Docker's socket) is empty; the script runs as the user nobody, from a copy that user can read.
        string folder = ReleaseScripts.NewFolder("quickstart-noroot");
        Directory.CreateDirectory(Path.Combine(folder, "build"));
        File.Copy(ReleaseScripts.Script("quickstart.sh"), Path.Combine(folder, "build", "quickstart.sh"));
        string programs = Directory.CreateDirectory(Path.Combine(folder, "bin")).FullName;
        foreach (string program in Artifacts.Programs)
            await File.WriteAllTextAsync(Path.Combine(programs, program), "#!/bin/sh\nexit 0\n");
        string empty = Path.Combine(folder, "empty");
        await File.WriteAllTextAsync(empty, "");
        string state = Directory.CreateDirectory(Path.Combine(folder, "state")).FullName;
        string hide = $$"""
            set -e
            mount -t tmpfs none /run
            for p in {{hidden}}; do
              for d in /usr/local/bin /usr/local/sbin /usr/bin /usr/sbin /bin /sbin; do
                if [ -e "$d/$p" ]; then mount --bind {{empty}} "$d/$p"; fi
              done
            done
            chmod -R a+rX {{folder}}
            chmod 755 {{programs}}/*
            chown nobody {{state}}
            exec setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME={{state}} \
              PEERCOMPUTE_QUICKSTART_DIR={{state}} QUICKSTART_BIN={{programs}} bash {{folder}}/build/quickstart.sh
            """;

        var run = await TestProcess.RunAsync("unshare", ["--mount", "--propagation", "private", "--", "bash", "-c", hide]);

        await Assert.That(run.ExitCode).IsEqualTo(1).Because(run.ToString());
        await Assert.That(run.StandardError).Contains($"quickstart: error: {says}. Run this script as root");
        await Assert.That(run.StandardError).Contains("  sudo apt-get update\n  sudo apt-get install -y docker.io\n  sudo systemctl start docker");
        await Assert.That(run.StandardError).Contains("sudo usermod -aG docker nobody");
        await Assert.That(run.StandardOutput).DoesNotContain("installing");
    }

    /// <summary>Alive, not merely a zombie waiting for a parent that does not reap (PID 1 in a container may not).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task<string> ContainersOfAsync(string providerPeerId)
    {
        var list = await TestProcess.RunAsync("docker", ["ps", "-aq", "--filter", $"label=io.peercompute.instance={providerPeerId}"]);
        return list.StandardOutput.Trim();
    }

    [GeneratedRegex(@"https://hello-[a-z0-9]+\.[a-z0-9.-]+:\d+/")]
    private static partial Regex PublicUrl();
}

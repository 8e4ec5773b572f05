using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// The published provider fails closed: without the privilege to install its egress firewall it serves, says why,
/// and refuses every deploy, unless its user chose open egress. Run as root with every capability dropped
/// (what an unprivileged service meets), so the shared host's iptables are never touched.
/// </summary>
[NotInParallel("system")]
internal sealed partial class EgressRefusalTests
{
    [Test]
    public async Task Without_CAP_NET_ADMIN_the_provider_refuses_deploys_and_says_why_unless_egress_is_open()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var user = await PeerNode.CreateAsync("user");
        using var second = await PeerNode.CreateAsync("second");
        await provider.TrustAsync(user, "sam");
        await provider.TrustAsync(second, "kim");
        try
        {
            await using (var daemon = TestProcess.Start("setpriv", ["--bounding-set", "-all", "--inh-caps", "-all", "--",
                PeerNode.Peercomputed, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"], provider.Environment))
            {
                // Said once at start, before it listens.
                await daemon.WaitForLineAsync(l => l.Contains("deploys are refused until the egress firewall is in place", StringComparison.Ordinal)
                    && l.Contains("needs root or CAP_NET_ADMIN", StringComparison.Ordinal) && l.Contains("--egress open", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
                string address = await AddressAsync(daemon);
                await daemon.WaitForLineAsync(l => l.Contains("ready: serving", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
                await user.TrustAsync(provider, "maya", address);

                var refused = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080");
                await Assert.That(refused.ExitCode).IsEqualTo(1).Because(refused.ToString());
                await Assert.That(refused.StandardError).Contains("egress firewall");
                var containers = await TestProcess.RunAsync("docker", ["ps", "-aq", "--filter", $"label=io.peercompute.instance={provider.PeerId}"]);
                await Assert.That(containers.StandardOutput.Trim()).IsEmpty();

                daemon.Signal(Posix.SIGTERM);
                await Assert.That(await daemon.WaitForExitAsync(TimeSpan.FromSeconds(60))).IsEqualTo(0);
            }

            // The provider's owner chose open egress: no firewall needed, the deploy goes ahead.
            await using (var open = TestProcess.Start("setpriv", ["--bounding-set", "-all", "--inh-caps", "-all", "--",
                PeerNode.Peercomputed, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--egress", "open"], provider.Environment))
            {
                await open.WaitForLineAsync(l => l.Contains("egress: open", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
                string address = await AddressAsync(open);
                await open.WaitForLineAsync(l => l.Contains("ready: serving", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
                await second.TrustAsync(provider, "maya", address);
                var deployed = await second.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080");
                await Assert.That(deployed.ExitCode).IsEqualTo(0).Because(deployed.ToString());
                open.Signal(Posix.SIGTERM);
                await Assert.That(await open.WaitForExitAsync(TimeSpan.FromSeconds(60))).IsEqualTo(0);
            }
        }
        finally
        {
            await Docker.RemoveContainersOfAsync(provider.PeerId);
        }
    }

    [Test]
    public async Task A_malformed_allow_egress_range_is_a_usage_error_naming_it()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        var result = await TestProcess.RunAsync(PeerNode.Peercomputed, ["--allow-egress", "192.168.1.0/24", "--allow-egress", "192.168.1/24"], provider.Environment);
        await Assert.That(result.ExitCode).IsEqualTo(2);
        await Assert.That(result.StandardError).Contains("allow-egress '192.168.1/24'");
    }

    private static async Task<string> AddressAsync(TestProcess daemon)
    {
        string line = await daemon.WaitForLineAsync(l => l.Contains("listening on /ip4/127.0.0.1/tcp/", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return ListenPattern().Match(line).Groups[1].Value;
    }

    [GeneratedRegex(@"listening on (/ip4/127\.0\.0\.1/tcp/\d+)")]
    private static partial Regex ListenPattern();
}

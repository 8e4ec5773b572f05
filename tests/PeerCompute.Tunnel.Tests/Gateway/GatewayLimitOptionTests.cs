using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>The gateway's abuse limits out of their range: a usage error (exit 2) naming the option, before anything listens.</summary>
public class GatewayLimitOptionTests
{
    [Test]
    [Arguments("--rate-limit-clients", "0", "--rate-limit-clients must be at least 1.")]
    [Arguments("--max-requests-per-client", "0", "--max-requests-per-client must be at least 1.")]
    [Arguments("--tunnel-handshakes-per-address", "0", "--tunnel-handshakes-per-address must be at least 1")]
    [Arguments("--max-hostname-bindings", "0", "--max-hostname-bindings must be between 1 and 10000000.")]
    [Arguments("--tunnel-max-streams", "8", "--tunnel-max-streams must be between 16 and 65536.")]
    [Arguments("--tunnel-receive-budget-mib", "0", "--tunnel-receive-budget-mib must be between 1 and 65536.")]
    public async Task A_limit_out_of_its_range_is_a_usage_error_naming_it(string option, string value, string message)
    {
        string home = Directory.CreateTempSubdirectory("pc-gateway-usage-").FullName;
        int[] ports = FreePorts.Many(2);
        var result = await TestProcess.RunAsync(GatewayProcess.ExecutablePath,
            ["--domain", "usage.localhost", "--self-signed", "--open", "--listen", "127.0.0.1", "--https-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture), "--tunnel-port", ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture), option, value],
            new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home }, TimeSpan.FromSeconds(60));

        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains(message);
    }
}

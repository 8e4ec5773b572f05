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
    [Arguments("--upstream-connections", "0", "--upstream-connections must be between 1 and 65536.")]
    [Arguments("--upstream-idle-seconds", "3601", "--upstream-idle-seconds must be between 0 and 3600.")]
    [Arguments("--tunnel-receive-budget-mib", "0", "--tunnel-receive-budget-mib must be between 1 and 65536.")]
    [Arguments("--relay-port", "70000", "--relay-port must be between 0 (no relay) and 65535")]
    [Arguments("--relay-max-reservations", "0", "--relay-max-reservations must be between 1 and 1000000.")]
    [Arguments("--relay-max-reservations-per-address", "0", "--relay-max-reservations-per-address must be between 1 and 1000000.")]
    [Arguments("--relay-max-circuits", "0", "--relay-max-circuits must be between 1 and 65536.")]
    [Arguments("--relay-circuit-seconds", "-1", "--relay-circuit-seconds must be between 1 and 2592000")]
    [Arguments("--relay-circuit-mib", "-5", "--relay-circuit-mib must be between 1 and 1048576")]
    [Arguments("--relay-bandwidth-mibps", "-1", "--relay-bandwidth-mibps must be between 1 and 100000")]
    [Arguments("--http-port", "70000", "--http-port must be between 0 (none) and 65535")]
    [Arguments("--domain-check-seconds", "0", "--domain-check-seconds must be between 1 and 86400.")]
    [Arguments("--resolver", "dns.example.org:53", "--resolver 'dns.example.org:53' is not an IP address or ADDRESS:PORT")]
    [Arguments("--resolver", "127.0.0.1:53", "--resolver checks custom domains, which need --acme-directory.")]
    [Arguments("--acme-challenge", "dns-01", "--acme-challenge 'dns-01' is neither http-01 nor tls-alpn-01.")]
    [Arguments("--peer-gateway", "ftp://gw2.example.org", "--peer-gateway 'ftp://gw2.example.org' is not an http:// URL")]
    [Arguments("--peer-gateway", "http://gw2.example.org/.well-known/", "--peer-gateway 'http://gw2.example.org/.well-known/' names a path")]
    [Arguments("--peer-gateway", "http://gw2.example.org:80", "--peer-gateway passes HTTP-01 challenges between the gateways' plain-HTTP ports: give --http-port too.")]
    public async Task A_limit_out_of_its_range_is_a_usage_error_naming_it(string option, string value, string message)
    {
        int[] ports = FreePorts.Many(2);
        var result = await RunAsync(ports, option, value);

        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains(message);
    }

    [Test]
    public async Task The_relay_port_may_not_be_one_of_the_other_ports()
    {
        int[] ports = FreePorts.Many(2);
        var result = await RunAsync(ports, "--relay-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture));

        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains("--relay-port must differ");
    }

    [Test]
    public async Task Gateway_id_prints_the_relays_peer_id_and_keeps_it_in_an_owner_only_key()
    {
        string home = Directory.CreateTempSubdirectory("pc-gateway-id-").FullName;
        var environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home };

        var first = await TestProcess.RunAsync(GatewayProcess.ExecutablePath, ["id"], environment, TimeSpan.FromSeconds(60));
        var second = await TestProcess.RunAsync(GatewayProcess.ExecutablePath, ["id"], environment, TimeSpan.FromSeconds(60));
        string key = Path.Combine(home, "gateway", "relay.key");

        await Assert.That(first.ExitCode).IsEqualTo(0).Because(first.ToString());
        await Assert.That(PeerCompute.Core.Identity.PeerId.TryParse(first.StandardOutput.Trim(), out _)).IsTrue();
        await Assert.That(second.StandardOutput).IsEqualTo(first.StandardOutput);
        await Assert.That(File.GetUnixFileMode(key)).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>The real gateway with an open, self-signed setup on <paramref name="ports"/> (HTTPS, tunnel) and <paramref name="extra"/>.</summary>
    private static Task<ProcessResult> RunAsync(int[] ports, params string[] extra)
    {
        string home = Directory.CreateTempSubdirectory("pc-gateway-usage-").FullName;
        return TestProcess.RunAsync(GatewayProcess.ExecutablePath,
            ["--domain", "usage.localhost", "--self-signed", "--open", "--listen", "127.0.0.1", "--https-port", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--tunnel-port", ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra],
            new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home }, TimeSpan.FromSeconds(60));
    }
}

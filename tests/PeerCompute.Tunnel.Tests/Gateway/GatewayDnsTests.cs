using System.Globalization;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>The real gateway with --dns-port: authoritative for its domain over UDP and TCP, asked with dig.</summary>
public class GatewayDnsTests
{
    private static async Task<string> DigAsync(int port, params string[] args)
    {
        var result = await TestProcess.RunAsync("dig", ["@127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "+tries=1", "+time=5", .. args]);
        return result.StandardOutput;
    }

    [Test]
    public async Task The_gateway_answers_for_its_zone_with_its_public_addresses_and_refuses_other_names()
    {
        using var pki = TestPki.Create();
        int dnsPort = FreePorts.One();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture),
            "--public-ip", "203.0.113.7", "--public-ip", "2001:db8::7");
        await gateway.WaitForOutputAsync("dns: authoritative for " + gateway.Domain, TimeSpan.FromSeconds(10));

        string a = await DigAsync(dnsPort, "+short", "web-abc123." + gateway.Domain, "A");
        string aaaa = await DigAsync(dnsPort, "+short", "+tcp", gateway.Domain, "AAAA");
        string soa = await DigAsync(dnsPort, gateway.Domain, "SOA");
        string outside = await DigAsync(dnsPort, "example.com", "A");
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{gateway.MetricsPort}/metrics");

        await Assert.That(a.Trim()).IsEqualTo("203.0.113.7");
        await Assert.That(aaaa.Trim()).IsEqualTo("2001:db8::7");
        await Assert.That(soa).Contains("flags: qr aa rd;");
        await Assert.That(soa).Contains($"ns.{gateway.Domain}. hostmaster.{gateway.Domain}.");
        await Assert.That(outside).Contains("status: REFUSED");
        await Assert.That(metrics).Contains("peercompute_gateway_dns_queries_total 4\n");
        await Assert.That(metrics).Contains("peercompute_gateway_dns_rate_limited_total 0\n");
    }

    [Test]
    [Arguments(new[] { "--dns-port", "5353" }, "give --public-ip ADDRESS")]
    [Arguments(new[] { "--public-ip", "203.0.113.7" }, "give --dns-port too")]
    [Arguments(new[] { "--dns-port", "5353", "--public-ip", "not-an-ip" }, "--public-ip 'not-an-ip' is not an IPv4 or IPv6 address.")]
    [Arguments(new[] { "--dns-port", "5353", "--public-ip", "0.0.0.0" }, "is the any-address")]
    [Arguments(new[] { "--dns-port", "70000", "--public-ip", "203.0.113.7" }, "--dns-port must be between 0 (no DNS server) and 65535")]
    public async Task Dns_options_that_do_not_fit_are_usage_errors(string[] extra, string message)
    {
        int[] ports = FreePorts.Many(2);
        string home = Directory.CreateTempSubdirectory("pc-gateway-usage-").FullName;
        var result = await TestProcess.RunAsync(GatewayProcess.ExecutablePath,
            ["--domain", "usage.localhost", "--self-signed", "--open", "--listen", "127.0.0.1", "--https-port", ports[0].ToString(CultureInfo.InvariantCulture),
             "--tunnel-port", ports[1].ToString(CultureInfo.InvariantCulture), .. extra],
            new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home }, TimeSpan.FromSeconds(60));

        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains(message);
    }
}

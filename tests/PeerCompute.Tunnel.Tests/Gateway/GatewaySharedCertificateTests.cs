using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// Two gateways of one zone and one certificate: the issuer obtains and renews it by ACME (its DNS server is the zone's
/// only one, so the CA never asks a gateway that did not start the challenge), the other serves the issuer's files
/// through --cert/--key and picks up each renewal by itself (the files are copied or shared; here it reads them in place).
/// </summary>
[NotInParallel("pebble")]
public class GatewaySharedCertificateTests
{
    private const string Domain = "gw.example.org";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);

    [Test]
    public async Task A_second_gateway_serves_the_issuers_certificate_and_its_renewals()
    {
        int dnsPort = FreePorts.One();
        await using var pebble = await Pebble.StartAsync(dnsPort, validitySeconds: 30);
        string issuerHome = Directory.CreateTempSubdirectory("pc-gateway-issuer-").FullName;
        // The zone's DNS answers with both gateways' addresses.
        await using var issuer = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Domain, [])
        {
            ExtraArgs = ["--open", "--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture), "--public-ip", "127.0.0.1", "--public-ip", "127.0.0.2",
                "--acme-directory", pebble.DirectoryUrl, "--acme-email", "ops@example.org", "--acme-ca", pebble.TlsRootFile],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = issuerHome },
        });
        await issuer.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string acme = Path.Combine(issuerHome, "gateway", "acme");

        string secondHome = Directory.CreateTempSubdirectory("pc-gateway-second-").FullName;
        await using var second = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Domain,
            ["--cert", Path.Combine(acme, "certificate.pem"), "--key", Path.Combine(acme, "certificate.key")])
        {
            ExtraArgs = ["--open"],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = secondHome },
        });

        string root = await pebble.IssuingRootFileAsync();
        string port = second.HttpsPort.ToString(CultureInfo.InvariantCulture);
        var valid = await Curl.RunAsync(["--cacert", root, "--resolve", $"web-abc.{Domain}:{port}:127.0.0.1", $"https://web-abc.{Domain}:{port}/"]);
        await Assert.That(valid.ExitCode).IsEqualTo(0).Because(valid.Error);
        using var first = await ServedAsync(second.HttpsPort, "web-abc." + Domain);
        using (var fromIssuer = await ServedAsync(issuer.HttpsPort, "web-abc." + Domain))
            await Assert.That(first.SerialNumber).IsEqualTo(fromIssuer.SerialNumber);

        // The issuer renews (30-second certificates, two thirds in); the second gateway serves the new one without a restart.
        await Eventually.WaitAsync(async () =>
        {
            using var served = await ServedAsync(second.HttpsPort, "web-abc." + Domain);
            return served.SerialNumber != first.SerialNumber;
        }, "the second gateway to serve the renewed certificate", Guard);
        var renewed = await Curl.RunAsync(["--cacert", root, "--resolve", $"web-abc.{Domain}:{port}:127.0.0.1", $"https://web-abc.{Domain}:{port}/"]);
        await Assert.That(renewed.ExitCode).IsEqualTo(0).Because(renewed.Error);
        await Assert.That(second.Process.HasExited).IsFalse();
    }

    private static Task<X509Certificate2> ServedAsync(int port, string host) => GatewayAcmeTests.ServedAsync(port, host);
}

using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// The gateway's ACME client against a real ACME server (pebble, challenge checks on) whose DNS questions go to the
/// gateway's own DNS server: the first certificate, its chain to pebble's root, renewal of short-lived certificates,
/// and a failed challenge retried and reported.
/// </summary>
[NotInParallel("pebble")]
public class GatewayAcmeTests
{
    private const string Domain = "gw.example.org";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    private static Task<GatewayProgram> StartGatewayAsync(string home, int dnsPort, Pebble pebble, params string[] extra) =>
        GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Domain, [])
        {
            ExtraArgs = ["--open", "--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture), "--public-ip", "127.0.0.1",
                "--acme-directory", pebble.DirectoryUrl, "--acme-email", "ops@example.org", "--acme-ca", pebble.TlsRootFile, .. extra],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home },
        });

    private static int Count(string output, string text)
    {
        int count = 0;
        for (int at = output.IndexOf(text, StringComparison.Ordinal); at >= 0; at = output.IndexOf(text, at + 1, StringComparison.Ordinal))
            count++;
        return count;
    }

    /// <summary>The certificate the gateway serves for <paramref name="host"/> (not validated here; curl does that).</summary>
    internal static async Task<X509Certificate2> ServedAsync(int port, string host)
    {
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate2? seen = null;
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            seen = X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData());
            return true;
        });
        await tls.AuthenticateAsClientAsync(host);
        return seen!;
    }

    [Test]
    public async Task The_first_certificate_chains_to_pebbles_root_and_is_renewed_at_two_thirds_of_its_life()
    {
        int dnsPort = FreePorts.One();
        await using var pebble = await Pebble.StartAsync(dnsPort, validitySeconds: 30);
        string home = Directory.CreateTempSubdirectory("pc-gateway-acme-").FullName;
        await using var gateway = await StartGatewayAsync(home, dnsPort, pebble);

        await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string root = await pebble.IssuingRootFileAsync();
        string port = gateway.HttpsPort.ToString(CultureInfo.InvariantCulture);
        var wildcard = await Curl.RunAsync(["--cacert", root, "--resolve", $"web-abc.{Domain}:{port}:127.0.0.1", $"https://web-abc.{Domain}:{port}/"]);
        var apex = await Curl.RunAsync(["--cacert", root, "--resolve", $"{Domain}:{port}:127.0.0.1", $"https://{Domain}:{port}/"]);
        using var first = await ServedAsync(gateway.HttpsPort, "web-abc." + Domain);
        // A provider that trusts only pebble's root connects now, and must stay connected through the renewal.
        using var pki = TestPki.Create(Domain);
        await using var provider = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, [], configure: o => o with { CaFile = root }).Start();
        var connected = await provider.WaitForAsync(s => s.State == TunnelState.Connected, Guard);

        await Assert.That(wildcard.ExitCode).IsEqualTo(0).Because(wildcard.Error);
        await Assert.That(apex.ExitCode).IsEqualTo(0).Because(apex.Error);
        await Assert.That(first.Issuer).Contains("Pebble");
        string acme = Path.Combine(home, "gateway", "acme");
        foreach (string file in new[] { "account.key", "certificate.key", "certificate.pem" })
            await Assert.That(File.GetUnixFileMode(Path.Combine(acme, file))).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite).Because(file);

        // 30-second certificates: the next one is ordered two thirds in, and served without a restart.
        await Eventually.WaitAsync(() => Task.FromResult(Count(gateway.Process.Output, "acme: certificate obtained") >= 2), "a renewed certificate", Guard);
        await Eventually.WaitAsync(async () =>
        {
            using var served = await ServedAsync(gateway.HttpsPort, "web-abc." + Domain);
            return served.SerialNumber != first.SerialNumber;
        }, "the renewed certificate served", Guard);
        using var second = await ServedAsync(gateway.HttpsPort, "web-abc." + Domain);
        var renewed = await Curl.RunAsync(["--cacert", root, "--resolve", $"web-abc.{Domain}:{port}:127.0.0.1", $"https://web-abc.{Domain}:{port}/"]);

        var afterRenewal = provider.Client.Status;

        await Assert.That(renewed.ExitCode).IsEqualTo(0).Because(renewed.Error);
        await Assert.That(afterRenewal.State).IsEqualTo(TunnelState.Connected);
        await Assert.That(afterRenewal.ConnectedSince).IsEqualTo(connected.ConnectedSince);
        var twoThirds = first.NotBefore + ((first.NotAfter - first.NotBefore) * 2 / 3);
        // Ordered no earlier than two thirds in (pebble's NotBefore has second precision).
        await Assert.That(second.NotBefore).IsGreaterThanOrEqualTo(twoThirds.AddSeconds(-1));
        await Assert.That(gateway.Process.Output).Contains("renews at");
    }

    [Test]
    public async Task A_failed_challenge_is_reported_and_retried_until_it_succeeds()
    {
        int dnsPort = FreePorts.One();
        await using var relay = new DnsRelay(dnsPort) { Broken = true };
        await using var pebble = await Pebble.StartAsync(relay.Port, validitySeconds: 3600);
        string home = Directory.CreateTempSubdirectory("pc-gateway-acme-").FullName;
        await using var gateway = await StartGatewayAsync(home, dnsPort, pebble, "--acme-retry-seconds", "1");

        string failure = await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: obtaining the certificate", StringComparison.Ordinal), Guard);
        relay.Broken = false;
        await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        using var served = await ServedAsync(gateway.HttpsPort, "web." + Domain);

        await Assert.That(failure).Contains("failed (attempt 1)");
        await Assert.That(failure).Contains("dns-01 challenge for " + Domain);
        await Assert.That(failure).Contains("retrying in 1 s");
        await Assert.That(served.Issuer).Contains("Pebble");
    }
}

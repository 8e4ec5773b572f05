using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// Custom domains by TLS-ALPN-01 (RFC 8737) on the HTTPS port, for gateways without port 80: pebble (challenge checks
/// on) validates through a relay of the test's, which holds each validation connection while the test looks at the
/// gateway as a validator and as a visitor would, with the challenge open.
/// </summary>
[NotInParallel("pebble")]
public class GatewayTlsAlpnTests
{
    private const string Zone = "gw.example.org";
    private const string Custom = "www.example.org";
    private const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(120);

    [Test]
    public async Task A_custom_domain_gets_its_certificate_on_the_https_port_and_visitors_keep_the_real_one_during_a_renewal()
    {
        int dnsPort = FreePorts.One();
        int httpsPort = FreePorts.One();
        await using var world = new StubDns(Zone, dnsPort);
        await using var relay = new PausableProxy(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, httpsPort));
        var looks = new List<(Probe Validator, Probe Visitor)>();
        int renewalLooksFrom = int.MaxValue;
        var lookFailures = new List<Exception>();
        var renewalLooked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.BeforeRelay = async () =>
        {
            try
            {
                var look = (await ProbeAsync(httpsPort, ["acme-tls/1"]), await ProbeAsync(httpsPort, ["http/1.1"]));
                lock (looks)
                    looks.Add(look);
            }
            catch (Exception e)
            {
                lock (looks)
                    lookFailures.Add(e);
            }
            lock (looks)
                if (looks.Count > renewalLooksFrom || lookFailures.Count > 0)
                    renewalLooked.TrySetResult();
        };
        // 30-second certificates: the custom domain is renewed 20 s after its first one.
        await using var pebble = await Pebble.StartAsync(world.Port, validitySeconds: 30, tlsPort: relay.Port);
        string home = Directory.CreateTempSubdirectory("pc-gateway-alpn-").FullName;
        await using var gateway = await GatewayProgram.StartAsync(new GatewayLaunch(GatewayProcess.ExecutablePath, Zone, [])
        {
            ExtraArgs = ["--open", "--https-port", httpsPort.ToString(CultureInfo.InvariantCulture), "--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture), "--public-ip", "127.0.0.1",
                "--acme-directory", pebble.DirectoryUrl, "--acme-email", "ops@example.org", "--acme-ca", pebble.TlsRootFile, "--acme-retry-seconds", "1",
                "--resolver", $"127.0.0.1:{world.Port}", "--domain-check-seconds", "1"],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home },
        });
        await gateway.Process.WaitForOutputAsync(l => l.Contains("custom domains: on; TLS-ALPN-01 challenges on", StringComparison.Ordinal), Guard);
        await gateway.Process.WaitForOutputAsync(l => l.Contains("acme: certificate obtained", StringComparison.Ordinal), Guard);
        string root = await pebble.IssuingRootFileAsync();

        await using var upstream = await UpstreamServer.StartAsync();
        using var pki = TestPki.Create(Zone);
        await using var owner = TestProvider.Create("127.0.0.1", gateway.TunnelPort, pki, new() { ["web"] = upstream.EndPoint }, configure: o => o with { CaFile = root });
        owner.Client.SetRoutes(["web"], domains: new Dictionary<string, IReadOnlyList<string>> { ["web"] = [Custom] });
        owner.Start();
        world.Cnames[Custom] = owner.Label("web") + "." + Zone;
        await gateway.Process.WaitForOutputAsync(l => l.Contains($"custom domain {Custom}: certificate obtained", StringComparison.Ordinal), Guard);
        // Looks from here on are the renewal's (pebble may open more than one validation connection per challenge).
        lock (looks)
            renewalLooksFrom = looks.Count;
        var served = await Curl.RunAsync(["--cacert", root, "--resolve", $"{Custom}:{httpsPort}:127.0.0.1", $"https://{Custom}:{httpsPort}/"]);
        await renewalLooked.Task.WaitAsync(Guard);
        (Probe Validator, Probe Visitor)[] seen;
        lock (looks)
            seen = [.. looks];

        lock (looks)
            if (lookFailures.Count > 0)
                throw new InvalidOperationException("a look during a validation failed", lookFailures[0]);
        await Assert.That(served.ExitCode).IsEqualTo(0).Because(served.Error);
        await Assert.That(served.Body).Contains(UpstreamServer.PageMarker);
        foreach (var (validator, _) in seen)
        {
            // A validation connection: the challenge certificate, acme-tls/1, and no HTTP on it.
            await Assert.That(validator.Protocol).IsEqualTo("acme-tls/1");
            await Assert.That(validator.HasAcmeIdentifier).IsTrue();
            await Assert.That(validator.Names).IsEquivalentTo(new[] { Custom });
            await Assert.That(validator.HttpAnswer).IsEmpty();
        }
        foreach (var (_, visitor) in seen)
        {
            await Assert.That(visitor.HasAcmeIdentifier).IsFalse();
            await Assert.That(visitor.HttpAnswer).StartsWith("HTTP/1.1 ");
        }
        // During the renewal a visitor of the domain gets its real certificate, issued by pebble, not the challenge one.
        await Assert.That(seen.Length).IsGreaterThan(renewalLooksFrom);
        var renewal = seen[^1].Visitor;
        await Assert.That(renewal.Names).Contains(Custom);
        await Assert.That(renewal.SelfSigned).IsFalse();
    }

    private sealed record Probe(string Protocol, bool HasAcmeIdentifier, IReadOnlyList<string> Names, bool SelfSigned, string HttpAnswer);

    /// <summary>A TLS connection to <see cref="Custom"/> offering <paramref name="protocols"/>: what it was shown, and what an HTTP/1.1 request on it got.</summary>
    private static async Task<Probe> ProbeAsync(int port, string[] protocols)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        X509Certificate2? shown = null;
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            shown = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return true;
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = Custom,
            ApplicationProtocols = [.. protocols.Select(p => new SslApplicationProtocol(p))],
        }, timeout.Token);
        string protocol = Encoding.ASCII.GetString(ssl.NegotiatedApplicationProtocol.Protocol.Span);
        string answer;
        try
        {
            await ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {Custom}\r\nConnection: close\r\n\r\n"), timeout.Token);
            byte[] buffer = new byte[64];
            int read = await ssl.ReadAsync(buffer, timeout.Token);
            answer = Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            answer = "";
        }
        using (shown)
        {
            var extension = shown!.Extensions[AcmeIdentifierOid];
            var names = new List<string>();
            foreach (var e in shown.Extensions)
                if (e is X509SubjectAlternativeNameExtension san)
                    names.AddRange(san.EnumerateDnsNames());
            return new Probe(protocol, extension is { Critical: true }, names, shown.SubjectName.RawData.AsSpan().SequenceEqual(shown.IssuerName.RawData), answer);
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// Debian's pebble (a test ACME server) on free loopback ports, with its own HTTPS certificate from a throwaway CA,
/// challenge checks on (only the random sleeps off: PEBBLE_VA_NOSLEEP) and its DNS queries sent to <c>dnsPort</c>.
/// </summary>
internal sealed class Pebble : IAsyncDisposable
{
    private readonly string _folder;

    private Pebble(string folder, TestProcess process, int port, int managementPort, int httpPort)
    {
        _folder = folder;
        HttpPort = httpPort;
        Process = process;
        DirectoryUrl = $"https://127.0.0.1:{port}/dir";
        ManagementUrl = $"https://127.0.0.1:{managementPort}";
    }

    public TestProcess Process { get; }
    public string DirectoryUrl { get; }
    public string ManagementUrl { get; }

    /// <summary>The port pebble connects to for HTTP-01 challenges (the gateway's --http-port in tests).</summary>
    public int HttpPort { get; }

    /// <summary>
    /// A gateway's options for certificates from this pebble: the zone's DNS on <paramref name="dnsPort"/> (DNS-01 for the
    /// wildcard), custom domains checked through <paramref name="world"/> and proved by HTTP-01 on pebble's HTTP port,
    /// retries and checks every second.
    /// </summary>
    public string[] GatewayArgs(int dnsPort, StubDns world) =>
        ["--dns-port", dnsPort.ToString(CultureInfo.InvariantCulture), "--public-ip", "127.0.0.1",
            "--acme-directory", DirectoryUrl, "--acme-email", "ops@example.org", "--acme-ca", TlsRootFile, "--acme-retry-seconds", "1",
            "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture), "--resolver", $"127.0.0.1:{world.Port}", "--domain-check-seconds", "1"];

    /// <summary>The root of pebble's own HTTPS (for the gateway's --acme-ca and curl).</summary>
    public string TlsRootFile => Path.Combine(_folder, "tls-root.pem");

    /// <summary>Starts pebble; <paramref name="tlsPort"/> is where it validates TLS-ALPN-01 (the gateway's HTTPS port in tests), else a free port.</summary>
    public static async Task<Pebble> StartAsync(int dnsPort, int validitySeconds, int? tlsPort = null)
    {
        string folder = Directory.CreateTempSubdirectory("pc-pebble-").FullName;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=pebble test tls root", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=localhost", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        leafRequest.CertificateExtensions.Add(san.Build());
        using var leaf = leafRequest.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        await File.WriteAllTextAsync(Path.Combine(folder, "tls-root.pem"), ca.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(folder, "tls.pem"), leaf.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(folder, "tls.key"), leafKey.ExportPkcs8PrivateKeyPem());

        int[] ports = FreePorts.Many(4);
        string config = Path.Combine(folder, "pebble.json");
        await File.WriteAllTextAsync(config, $$"""
            {"pebble": {"listenAddress": "127.0.0.1:{{ports[0]}}", "managementListenAddress": "127.0.0.1:{{ports[1]}}",
              "certificate": "{{folder}}/tls.pem", "privateKey": "{{folder}}/tls.key", "httpPort": {{ports[2]}}, "tlsPort": {{tlsPort ?? ports[3]}},
              "ocspResponderURL": "", "externalAccountBindingRequired": false, "certificateValidityPeriod": {{validitySeconds}} } }
            """);
        var process = TestProcess.Start("pebble", ["-config", config, "-dnsserver", $"127.0.0.1:{dnsPort.ToString(CultureInfo.InvariantCulture)}"],
            new Dictionary<string, string?> { ["PEBBLE_VA_NOSLEEP"] = "1" });
        await process.WaitForOutputAsync(l => l.Contains("ACME directory available", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return new Pebble(folder, process, ports[0], ports[1], ports[2]);
    }

    /// <summary>The root pebble issues under (made fresh at each start), from its management interface.</summary>
    public async Task<string> IssuingRootFileAsync()
    {
        string file = Path.Combine(_folder, "issuing-root.pem");
        var result = await Curl.RunAsync(["--cacert", TlsRootFile, "-o", file, ManagementUrl + "/roots/0"]);
        if (result.ExitCode != 0 || !File.ReadAllText(file).Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
            throw new InvalidOperationException($"pebble's root did not download: {result}");
        return file;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>
/// Stands between pebble and the gateway's DNS server: forwards each UDP query and its answer, or, while
/// <see cref="Broken"/>, answers NXDOMAIN itself (what a resolver sees before a delegation is in place).
/// </summary>
internal sealed class DnsRelay : IAsyncDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public DnsRelay(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _loop = Task.Run(LoopAsync);
    }

    public int Port => ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;

    private volatile bool _broken;

    public bool Broken
    {
        get => _broken;
        set => _broken = value;
    }

    private async Task LoopAsync()
    {
        try
        {
            while (true)
            {
                var query = await _socket.ReceiveAsync(_stop.Token);
                byte[] answer;
                if (Broken)
                {
                    answer = NameError(query.Buffer);
                }
                else
                {
                    using var upstream = new UdpClient(AddressFamily.InterNetwork);
                    await upstream.SendAsync(query.Buffer, _target, _stop.Token);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    answer = (await upstream.ReceiveAsync(timeout.Token)).Buffer;
                }
                await _socket.SendAsync(answer, query.RemoteEndPoint, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The query turned into an NXDOMAIN response: QR set, RCODE 3, the question kept, no records.</summary>
    private static byte[] NameError(byte[] query)
    {
        int p = 12;
        while (p < query.Length && query[p] != 0)
            p += 1 + query[p];
        byte[] answer = query[..Math.Min(query.Length, p + 5)];
        answer[2] |= 0x80;
        answer[3] = (byte)((answer[3] & 0xF0) | 3);
        answer[6] = answer[7] = answer[8] = answer[9] = answer[10] = answer[11] = 0;
        return answer;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
        _socket.Dispose();
    }
}

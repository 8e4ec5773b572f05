using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Core.Identity;
using PeerCompute.Net.Noise;

namespace PeerCompute.Mux.Tests.Compliance;

/// <summary>The byte streams yamux runs over in production and in tests.</summary>
public enum Carrier
{
    /// <summary>Two in-memory pipes.</summary>
    Pipe,

    /// <summary>A Noise XX channel over loopback TCP, as the libp2p host runs yamux.</summary>
    Noise,

    /// <summary>TLS 1.3 over loopback TCP with a self-signed certificate, as the tunnel runs yamux.</summary>
    Tls,
}

/// <summary>Connects the two ends of a <see cref="Carrier"/>: what one end writes the other reads.</summary>
internal static class Carriers
{
    private static readonly string[] Muxers = ["/yamux/1.0.0"];

    public static Task<(Stream Client, Stream Server)> ConnectAsync(Carrier carrier, CancellationToken cancellationToken) => carrier switch
    {
        Carrier.Pipe => Task.FromResult(DuplexPipe.CreatePair()),
        Carrier.Noise => NoiseAsync(cancellationToken),
        Carrier.Tls => TlsAsync(cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(carrier)),
    };

    private static async Task<(Stream Client, Stream Server)> TcpAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync(cancellationToken).AsTask();
        await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken);
        var server = await accepting;
        server.NoDelay = true;
        return (new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true));
    }

    private static async Task<(Stream Client, Stream Server)> NoiseAsync(CancellationToken cancellationToken)
    {
        var (client, server) = await TcpAsync(cancellationToken);
        using var clientIdentity = PeerIdentity.Generate();
        using var serverIdentity = PeerIdentity.Generate();
        var inbound = NoiseSecurity.SecureInboundAsync(server, serverIdentity, Muxers, cancellationToken);
        var outbound = await NoiseSecurity.SecureOutboundAsync(client, clientIdentity, serverIdentity.PeerId, Muxers, cancellationToken);
        return (outbound.Stream, (await inbound).Stream);
    }

    private static async Task<(Stream Client, Stream Server)> TlsAsync(CancellationToken cancellationToken)
    {
        var (client, server) = await TcpAsync(cancellationToken);
        var certificate = SelfSigned();
        var serverTls = new SslStream(server, leaveInnerStreamOpen: false);
        var clientTls = new SslStream(client, leaveInnerStreamOpen: false);
        var accepting = serverTls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = SslProtocols.Tls13,
        }, cancellationToken);
        await clientTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls13,
            // Pinned: the one certificate this test made.
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
        }, cancellationToken);
        await accepting;
        if (clientTls.SslProtocol != SslProtocols.Tls13)
            throw new InvalidOperationException($"negotiated {clientTls.SslProtocol}, not TLS 1.3");
        return (clientTls, serverTls);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // A round trip through PKCS#12 gives a certificate whose key SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}

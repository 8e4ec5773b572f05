using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tls;

/// <summary>
/// The gateway's TLS server settings, for both of its ports: TLS 1.3 only, no client certificate, no revocation
/// lookups (the gateway serves its own certificate, and a lookup would let a slow responder stall handshakes), and
/// the certificate current at each handshake, so a reloaded one is used at once.
/// </summary>
public static class TunnelTls
{
    /// <summary>The only protocol either side negotiates.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls13;

    /// <summary>Public HTTPS: HTTP/2 and HTTP/1.1.</summary>
    public static SslServerAuthenticationOptions PublicHttpsOptions(SslStreamCertificateContext certificate) =>
        ServerOptions(certificate, [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);

    /// <summary>The tunnel port: the tunnel's ALPN id only.</summary>
    internal static SslServerAuthenticationOptions TunnelOptions(SslStreamCertificateContext certificate) =>
        ServerOptions(certificate, [new SslApplicationProtocol(TunnelHandshake.Alpn)]);

    private static SslServerAuthenticationOptions ServerOptions(SslStreamCertificateContext certificate, List<SslApplicationProtocol> protocols) => new()
    {
        ServerCertificateContext = certificate,
        EnabledSslProtocols = Protocols,
        ApplicationProtocols = protocols,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    /// <summary>Refuses a session that is not TLS 1.3 (belt and braces: only 1.3 is enabled).</summary>
    internal static void EnsureTls13(SslStream ssl, string peer)
    {
        if (ssl.SslProtocol != Protocols)
            throw new TunnelException(TunnelErrorKind.Protocol, $"{peer}negotiated {ssl.SslProtocol}, not TLS 1.3");
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>
/// The bytes a provider signs to authenticate. They bind the signature to this TLS session as far as SslStream lets
/// us see it: both sides' fresh random values (so a signature is never valid twice) and the SHA-256 of the gateway
/// certificate the provider actually saw (tls-server-end-point style), so a signature obtained by a man in the middle
/// holding another certificate is useless to relay to the real gateway. The advertised domain and port are included
/// so the provider's URLs cannot be changed by a relay either.
/// </summary>
internal static class AuthTranscript
{
    private static ReadOnlySpan<byte> Prefix => "peercompute/tunnel-auth/1\n"u8;

    public static byte[] Build(ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> gatewayCertificateHash, string domain, ushort httpsPort)
    {
        byte[] domainBytes = Encoding.ASCII.GetBytes(domain);
        var transcript = new byte[Prefix.Length + clientNonce.Length + serverNonce.Length + gatewayCertificateHash.Length + 1 + domainBytes.Length + 2];
        var span = transcript.AsSpan();
        Prefix.CopyTo(span);
        span = span[Prefix.Length..];
        clientNonce.CopyTo(span);
        span = span[clientNonce.Length..];
        serverNonce.CopyTo(span);
        span = span[serverNonce.Length..];
        gatewayCertificateHash.CopyTo(span);
        span = span[gatewayCertificateHash.Length..];
        span[0] = (byte)domainBytes.Length;
        domainBytes.CopyTo(span[1..]);
        span = span[(1 + domainBytes.Length)..];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(span, httpsPort);
        return transcript;
    }

    /// <summary>SHA-256 of the certificate's DER encoding.</summary>
    public static byte[] CertificateHash(X509Certificate certificate) => SHA256.HashData(certificate.GetRawCertData());
}

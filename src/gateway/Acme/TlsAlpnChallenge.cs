using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Gateway.Acme;

/// <summary>
/// ACME TLS-ALPN-01 (RFC 8737) on the public HTTPS port. The CA's validation connection offers the single protocol
/// <c>acme-tls/1</c> with the domain as SNI, and must get a self-signed certificate for that name carrying the critical
/// acmeIdentifier extension (the SHA-256 of the key authorization). Ordinary visitors of the same name (a renewal of a
/// domain already served) still get the real certificate: the choice is made by the ClientHello's ALPN list, which a
/// connection middleware reads before the TLS handshake (<see cref="PeekAsync"/>), not by SNI alone. A connection that
/// negotiated <c>acme-tls/1</c> is closed after its handshake and never served HTTP (<see cref="CloseValidations"/>).
/// </summary>
internal static class TlsAlpnChallenge
{
    public const string Protocol = "acme-tls/1";

    /// <summary>id-pe-acmeIdentifier (RFC 8737 §6.1).</summary>
    public const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

    private static readonly SslApplicationProtocol AlpnProtocol = new(Protocol);

    /// <summary>Marks, in a connection's items, a ClientHello that offered <c>acme-tls/1</c> only.</summary>
    private static readonly object ValidationKey = new();

    /// <summary>The challenge certificate for <paramref name="domain"/>: self-signed, its only name the domain, the key authorization's digest in a critical extension.</summary>
    public static SslStreamCertificateContext Certificate(string domain, string keyAuthorization)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(domain);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(domain);
        request.CertificateExtensions.Add(san.Build(critical: false));
        byte[] digest = SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization));
        // The extension's value is an ASN.1 OCTET STRING holding the 32-byte digest.
        byte[] value = [0x04, (byte)digest.Length, .. digest];
        request.CertificateExtensions.Add(new X509Extension(AcmeIdentifierOid, value, critical: true));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(7));
        // Exported and loaded again so that the key is the certificate's own, not the disposed ephemeral one.
        return SslStreamCertificateContext.Create(X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null), null, offline: true);
    }

    /// <summary>The handshake options of a validation connection: the challenge certificate, and <c>acme-tls/1</c> as the only protocol.</summary>
    public static SslServerAuthenticationOptions Options(SslStreamCertificateContext challenge)
    {
        var options = TunnelTls.PublicHttpsOptions(challenge);
        options.ApplicationProtocols = [AlpnProtocol];
        return options;
    }

    /// <summary>Whether the connection's ClientHello offered <c>acme-tls/1</c> only (read by <see cref="PeekAsync"/>).</summary>
    public static bool IsValidation(ConnectionContext connection) => connection.Items.ContainsKey(ValidationKey);

    /// <summary>
    /// Reads the ClientHello (first record) without consuming it and marks the connection when it offers
    /// <c>acme-tls/1</c> only; a client that sends no whole record within <paramref name="timeout"/> is dropped.
    /// </summary>
    public static async Task PeekAsync(ConnectionContext connection, ConnectionDelegate next, TimeSpan timeout)
    {
        var input = connection.Transport.Input;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed))
        {
            deadline.CancelAfter(timeout);
            try
            {
                while (true)
                {
                    var result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    var read = Read(buffer, out var hello);
                    if (read == ClientHelloRead.NeedMore && !result.IsCompleted)
                    {
                        input.AdvanceTo(buffer.Start, buffer.End);
                        continue;
                    }
                    // Nothing consumed: the TLS handshake reads the same bytes.
                    input.AdvanceTo(buffer.Start);
                    if (hello is not null && hello.OffersOnly(Protocol))
                        connection.Items[ValidationKey] = true;
                    break;
                }
            }
            catch (OperationCanceledException)
            {
                connection.Abort();
                return;
            }
        }
        await next(connection).ConfigureAwait(false);
    }

    private static ClientHelloRead Read(ReadOnlySequence<byte> buffer, out TlsClientHello? hello)
    {
        if (buffer.IsSingleSegment)
            return TlsClientHello.TryRead(buffer.FirstSpan, out hello);
        int length = (int)Math.Min(buffer.Length, TlsClientHello.MaxRecordBytes);
        byte[] copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            buffer.Slice(0, length).CopyTo(copy);
            return TlsClientHello.TryRead(copy.AsSpan(0, length), out hello);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>After the handshake: a connection that negotiated <c>acme-tls/1</c> is closed; any other goes on to HTTP.</summary>
    public static Task CloseValidations(ConnectionContext connection, ConnectionDelegate next)
    {
        var negotiated = connection.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol ?? default;
        return negotiated.Span.SequenceEqual(AlpnProtocol.Protocol.Span) ? Task.CompletedTask : next(connection);
    }
}

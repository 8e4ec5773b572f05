using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tls;

/// <summary>
/// How the provider decides whether it talks to its gateway: with a pin, the certificate's key must match and
/// nothing else counts (self-signed gateways); otherwise the chain must lead to the system roots, or to the CA file
/// when one is given, and the certificate must be valid for the server name. Every rejection has a reason that
/// tells the operator what to change.
/// </summary>
internal sealed class GatewayCertificatePolicy
{
    private readonly string _serverName;
    private readonly string? _caFile;
    private readonly X509Certificate2Collection? _caCertificates;
    private readonly CertificatePin? _pin;

    /// <summary>Reads the CA file now, so a bad one is reported at start and not at every connection.</summary>
    public GatewayCertificatePolicy(string serverName, string? caFile, CertificatePin? pin)
    {
        _serverName = serverName;
        _caFile = caFile;
        _pin = pin;
        if (caFile is null)
            return;
        _caCertificates = [];
        try
        {
            _caCertificates.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new TunnelException(TunnelErrorKind.Certificate, $"Cannot read the gateway CA file {caFile}: {e.Message}", e);
        }
        if (_caCertificates.Count == 0)
            throw new TunnelException(TunnelErrorKind.Certificate, $"The gateway CA file {caFile} holds no PEM certificate.");
    }

    /// <summary>
    /// The TLS 1.3 client handshake under this policy. A rejected certificate becomes a
    /// <see cref="TunnelErrorKind.Certificate"/> error with its reason; other TLS failures stay
    /// <see cref="AuthenticationException"/>s.
    /// </summary>
    public async Task AuthenticateAsync(SslStream ssl, CancellationToken cancellationToken)
    {
        string? rejection = null;
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = _serverName,
            EnabledSslProtocols = TunnelTls.Protocols,
            ApplicationProtocols = [new SslApplicationProtocol(TunnelHandshake.Alpn)],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => Accept(certificate, errors, out rejection),
        };
        if (_caCertificates is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(_caCertificates);
            tls.CertificateChainPolicy = policy;
        }
        try
        {
            await ssl.AuthenticateAsClientAsync(tls, cancellationToken).ConfigureAwait(false);
        }
        catch (AuthenticationException e) when (rejection is not null)
        {
            throw new TunnelException(TunnelErrorKind.Certificate, rejection, e);
        }
        TunnelTls.EnsureTls13(ssl, "the gateway ");
    }

    private bool Accept(X509Certificate? certificate, SslPolicyErrors errors, out string? rejection)
    {
        rejection = null;
        if (certificate is null)
        {
            rejection = "the gateway sent no certificate";
            return false;
        }
        if (_pin is { } pin)
        {
            using var cert = new X509Certificate2(certificate);
            if (pin.Matches(cert))
                return true;
            rejection = $"the gateway's key {CertificatePin.FromCertificate(cert)} does not match --gateway-pin {pin}; give --gateway-pin $(gateway pin), with what 'gateway pin' prints on the gateway's machine";
            return false;
        }
        if (errors == SslPolicyErrors.None)
            return true;
        const string PinFix = "a self-signed gateway needs --gateway-pin $(gateway pin), with what 'gateway pin' prints on the gateway's machine";
        rejection = (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0
            ? $"the gateway certificate ({certificate.Subject}) is not valid for {_serverName}; {PinFix}"
            : $"the gateway certificate ({certificate.Subject}) is not trusted ({errors}){(_caCertificates is null ? $"; {PinFix} (or --gateway-ca CA.pem for a private CA)" : $" by {_caFile}")}";
        return false;
    }
}

using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PeerCompute.Tunnel.Tls;

/// <summary>Loads a server certificate (leaf, intermediates and key) from PEM files, and makes self-signed ones.</summary>
public static class CertificateFiles
{
    /// <summary>
    /// The certificate file holds the leaf first and then any intermediates; the key file the leaf's private key
    /// (it may be the same file). The result carries the intermediates so clients get the whole chain.
    /// </summary>
    public static SslStreamCertificateContext Load(string certificateFile, string keyFile)
    {
        X509Certificate2 leaf;
        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPemFile(certificateFile);
            if (chain.Count == 0)
                throw new TunnelException(TunnelErrorKind.Certificate, $"{certificateFile} holds no PEM certificate.");
            leaf = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new TunnelException(TunnelErrorKind.Certificate, $"Cannot load the certificate {certificateFile} with key {keyFile}: {e.Message}", e);
        }
        if (!leaf.HasPrivateKey)
            throw new TunnelException(TunnelErrorKind.Certificate, $"{keyFile} holds no private key for {certificateFile}.");
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < chain.Count; i++)
            intermediates.Add(chain[i]);
        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    /// <summary>
    /// Writes a self-signed ECDSA P-256 certificate for <c>*.domain</c> and <c>domain</c> (and localhost) to the two
    /// files, unless they already hold a valid one for that domain: a restart keeps the same key, so pins stay valid.
    /// </summary>
    public static void EnsureSelfSigned(string certificateFile, string keyFile, string domain, TimeSpan? lifetime = null)
    {
        if (File.Exists(certificateFile) && File.Exists(keyFile))
        {
            try
            {
                using var existing = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
                if (existing.NotAfter > DateTime.Now.AddDays(7) && existing.MatchesHostname("x." + domain) && existing.MatchesHostname(domain))
                    return;
            }
            catch (CryptographicException)
            {
                // Replace a broken pair below.
            }
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=*.{domain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("*." + domain);
        names.AddDnsName(domain);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(lifetime ?? TimeSpan.FromDays(365)));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(certificateFile))!);
        Core.Storage.AtomicFile.Write(keyFile, System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"));
        Core.Storage.AtomicFile.Write(certificateFile, System.Text.Encoding.ASCII.GetBytes(certificate.ExportCertificatePem() + "\n"),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}

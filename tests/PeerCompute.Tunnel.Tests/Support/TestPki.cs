using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>A test CA and a wildcard server certificate for <c>*.domain</c>, written as PEM files in a temp folder.</summary>
internal sealed class TestPki : IDisposable
{
    private readonly ECDsa _caKey;

    private TestPki(string folder, string domain, ECDsa caKey, X509Certificate2 ca)
    {
        Folder = folder;
        Domain = domain;
        _caKey = caKey;
        Ca = ca;
        File.WriteAllText(CaFile, ca.ExportCertificatePem() + "\n");
    }

    public string Folder { get; }
    public string Domain { get; }
    public X509Certificate2 Ca { get; }
    public string CaFile => Path.Combine(Folder, "ca.pem");
    public string CertFile => Path.Combine(Folder, "server.pem");
    public string KeyFile => Path.Combine(Folder, "server.key");

    public static TestPki Create(string domain = "pc.localhost", string? folder = null)
    {
        folder ??= Directory.CreateTempSubdirectory("pc-tunnel-pki-").FullName;
        var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Peer Compute Test CA", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var pki = new TestPki(folder, domain, caKey, ca);
        pki.IssueServerCertificate();
        return pki;
    }

    /// <summary>Issues a new leaf (new key) for *.domain and writes it over the server files; returns it.</summary>
    public X509Certificate2 IssueServerCertificate(string? certFile = null, string? keyFile = null, string? domain = null)
    {
        domain ??= Domain;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=*.{domain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("*." + domain);
        names.AddDnsName(domain);
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Ca, true, false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var issued = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90), serial);
        var withKey = issued.CopyWithPrivateKey(key);
        // Key first, then the certificate: a watcher that sees only the new key keeps the old pair (it does not load).
        File.WriteAllText(keyFile ?? KeyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certFile ?? CertFile, withKey.ExportCertificatePem() + "\n" + Ca.ExportCertificatePem() + "\n");
        return withKey;
    }

    public void Dispose()
    {
        _caKey.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PeerCompute.Tunnel.Tls;

/// <summary>
/// A pinned gateway key: SHA-256 of the certificate's SubjectPublicKeyInfo (the form curl's <c>--pinnedpubkey</c> uses),
/// so a renewed certificate with the same key still matches. Written <c>sha256//BASE64</c>; hex is accepted too.
/// </summary>
public sealed class CertificatePin : IEquatable<CertificatePin>
{
    private readonly byte[] _hash;

    private CertificatePin(byte[] hash) => _hash = hash;

    public static CertificatePin FromCertificate(X509Certificate2 certificate) =>
        new(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    public static bool TryParse(string? text, [NotNullWhen(true)] out CertificatePin? pin)
    {
        pin = null;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        string value = text.Trim();
        if (value.StartsWith("sha256//", StringComparison.OrdinalIgnoreCase))
            value = value[8..];
        byte[]? hash = null;
        if (value.Length == 64 && value.All(Uri.IsHexDigit))
        {
            hash = Convert.FromHexString(value);
        }
        else
        {
            var buffer = new byte[48];
            if (Convert.TryFromBase64String(value, buffer, out int written) && written == 32)
                hash = buffer[..32];
        }
        if (hash is null)
            return false;
        pin = new CertificatePin(hash);
        return true;
    }

    public static CertificatePin Parse(string text) =>
        TryParse(text, out var pin) ? pin : throw new FormatException($"'{text}' is not a SHA-256 key pin (expected sha256//BASE64 or 64 hex digits).");

    public bool Matches(X509Certificate2 certificate) => Equals(FromCertificate(certificate));

    public override string ToString() => "sha256//" + Convert.ToBase64String(_hash);

    public bool Equals(CertificatePin? other) => other is not null && CryptographicOperations.FixedTimeEquals(_hash, other._hash);

    public override bool Equals(object? obj) => obj is CertificatePin other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(_hash);
}

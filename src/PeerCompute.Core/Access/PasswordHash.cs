using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PeerCompute.Core.Access;

/// <summary>
/// A basic-auth password as it is stored and sent: PBKDF2-HMAC-SHA256 with a random salt, written
/// <c>pbkdf2-sha256$iterations$salt$hash</c> (salt and hash in base64). The password itself never leaves peerctl.
/// The iteration count travels with the hash, bounded so that a provider cannot make the gateway spend seconds per check.
/// </summary>
public static class PasswordHash
{
    public const string Scheme = "pbkdf2-sha256";

    /// <summary>OWASP's figure for PBKDF2-HMAC-SHA256 (2023).</summary>
    public const int DefaultIterations = 600_000;

    public const int MinIterations = 100_000;

    public const int MaxIterations = 2_000_000;

    public const int SaltLength = 16;

    public const int HashLength = 32;

    public const int MaxPasswordLength = 1024;

    public static string Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length == 0 || password.Length > MaxPasswordLength)
            throw new ArgumentException($"a password has 1-{MaxPasswordLength} characters", nameof(password));
        if (iterations is < MinIterations or > MaxIterations)
            throw new ArgumentOutOfRangeException(nameof(iterations), $"{MinIterations}-{MaxIterations} iterations");
        byte[] salt = RandomNumberGenerator.GetBytes(SaltLength);
        byte[] hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashLength);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Parses a stored hash; <paramref name="problem"/> says what is wrong with one that does not parse.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Parsed? parsed, [NotNullWhen(false)] out string? problem)
    {
        parsed = null;
        problem = null;
        var parts = (text ?? "").Split('$');
        if (parts.Length != 4 || parts[0] != Scheme)
            problem = $"not of the form {Scheme}$iterations$salt$hash";
        else if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int iterations) || iterations is < MinIterations or > MaxIterations)
            problem = $"the iteration count must be {MinIterations}-{MaxIterations}";
        else if (!TryBase64(parts[2], out byte[]? salt) || salt.Length is < 8 or > 64)
            problem = "the salt must be 8-64 bytes of base64";
        else if (!TryBase64(parts[3], out byte[]? hash) || hash.Length != HashLength)
            problem = $"the hash must be {HashLength} bytes of base64";
        else
        {
            parsed = new Parsed(iterations, salt, hash);
            return true;
        }
        return false;
    }

    /// <summary>True when <paramref name="password"/> matches <paramref name="stored"/> (compared in constant time); false for a malformed hash.</summary>
    public static bool Verify(string password, string? stored)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length > MaxPasswordLength || !TryParse(stored, out var parsed, out _))
            return false;
        byte[] actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), parsed.Salt, parsed.Iterations, HashAlgorithmName.SHA256, HashLength);
        return CryptographicOperations.FixedTimeEquals(actual, parsed.Hash);
    }

    private static bool TryBase64(string text, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (text.Length > 128)
            return false;
        var buffer = new byte[text.Length];
        if (!Convert.TryFromBase64String(text, buffer, out int written))
            return false;
        bytes = buffer[..written];
        return true;
    }

    public sealed record Parsed(int Iterations, byte[] Salt, byte[] Hash);
}

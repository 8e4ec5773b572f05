using PeerCompute.Core.Storage;

namespace PeerCompute.Core.Identity;

/// <summary>A problem with the identity key that the user must fix; the message says how.</summary>
public sealed class IdentityException(string message) : Exception(message);

/// <summary>Loads and creates <c>identity.key</c> (the libp2p private key protobuf, mode 0600).</summary>
public static class IdentityStore
{
    /// <summary>For CI: the key file's content, base64, instead of a file.</summary>
    public const string KeyEnvironmentVariable = "PEERCOMPUTE_IDENTITY_KEY";

    private const UnixFileMode OthersOrGroup =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static bool Exists(PeerComputeHome home) => File.Exists(home.IdentityKeyFile);

    public static PeerIdentity Load(PeerComputeHome home)
    {
        string? fromEnv = Environment.GetEnvironmentVariable(KeyEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            byte[] bytes;
            try { bytes = Convert.FromBase64String(fromEnv.Trim()); }
            catch (FormatException) { throw new IdentityException($"{KeyEnvironmentVariable} is not base64 of an identity key (it should hold the base64 of an identity.key file)."); }
            return PeerIdentity.TryFromPrivateKeyProtobuf(bytes, out var envIdentity)
                ? envIdentity
                : throw new IdentityException($"{KeyEnvironmentVariable} does not hold an Ed25519 identity key.");
        }

        string path = home.IdentityKeyFile;
        if (!File.Exists(path))
            throw new IdentityException($"No identity at {path}. Create one with: peerctl init");
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & OthersOrGroup) != 0)
                throw new IdentityException(
                    $"The identity key {path} is accessible by other users (mode {ToOctal(mode)}); refusing to use it. Fix it with: chmod 600 {path}");
        }
        var content = File.ReadAllBytes(path);
        return PeerIdentity.TryFromPrivateKeyProtobuf(content, out var identity)
            ? identity
            : throw new IdentityException($"{path} is not a valid identity key (expected a libp2p Ed25519 private key). Move it aside and run: peerctl init");
    }

    /// <summary>Creates a new identity; refuses to replace an existing one unless <paramref name="force"/>.</summary>
    public static PeerIdentity Create(PeerComputeHome home, bool force)
    {
        home.EnsureExists();
        if (File.Exists(home.IdentityKeyFile) && !force)
            throw new IdentityException($"An identity already exists at {home.IdentityKeyFile}. Use --force to replace it (its PeerId will be lost, and peers that trust it must add the new one).");
        var identity = PeerIdentity.Generate();
        WriteKey(home.IdentityKeyFile, identity);
        return identity;
    }

    /// <summary>
    /// The identity kept in <paramref name="path"/> (a service's own key, such as the gateway's relay identity), made
    /// there (mode 0600) the first time. Refuses a file others can read, or one that is not an Ed25519 key.
    /// </summary>
    public static PeerIdentity LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            var created = PeerIdentity.Generate();
            WriteKey(path, created);
            return created;
        }
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & OthersOrGroup) != 0)
            throw new IdentityException($"The key {path} is accessible by other users (mode {ToOctal(File.GetUnixFileMode(path))}); refusing to use it. Fix it with: chmod 600 {path}");
        return PeerIdentity.TryFromPrivateKeyProtobuf(File.ReadAllBytes(path), out var identity)
            ? identity
            : throw new IdentityException($"{path} is not a valid identity key (expected a libp2p Ed25519 private key). Move it aside and a new one is made (its PeerId changes).");
    }

    /// <summary>Writes the private key protobuf atomically, owner-only, and wipes the copy it made.</summary>
    private static void WriteKey(string path, PeerIdentity identity)
    {
        var bytes = identity.ExportPrivateKeyProtobuf();
        try
        {
            AtomicFile.Write(path, bytes, AtomicFile.OwnerOnly);
        }
        finally
        {
            Array.Clear(bytes);
        }
    }

    public static string ToOctal(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');
}

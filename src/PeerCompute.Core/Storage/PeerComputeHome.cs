namespace PeerCompute.Core.Storage;

/// <summary>
/// The state folder shared by peerctl and peercomputed: <c>$PEERCOMPUTE_HOME</c>, else <c>~/.peercompute</c>.
/// </summary>
public sealed class PeerComputeHome
{
    public const string EnvironmentVariable = "PEERCOMPUTE_HOME";
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public PeerComputeHome(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }
    public string IdentityKeyFile => System.IO.Path.Combine(Path, "identity.key");
    public string TrustedPeersFile => System.IO.Path.Combine(Path, "trusted_peers.json");
    public string ProviderStateFolder => System.IO.Path.Combine(Path, "provider");
    public string GatewayStateFolder => System.IO.Path.Combine(Path, "gateway");

    public static PeerComputeHome Resolve(string? explicitPath = null)
    {
        if (!string.IsNullOrEmpty(explicitPath))
            return new PeerComputeHome(explicitPath);
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return new PeerComputeHome(fromEnv);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (string.IsNullOrEmpty(home))
            home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        return new PeerComputeHome(System.IO.Path.Combine(home, ".peercompute"));
    }

    /// <summary>Creates the folder with mode 0700 when missing.</summary>
    public void EnsureExists()
    {
        if (Directory.Exists(Path))
            return;
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(Path);
        else
            Directory.CreateDirectory(Path, FolderMode);
    }
}

using System.Runtime.InteropServices;
using System.Security.Cryptography;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// Runs the release scripts of build/ (package.sh, install.sh, quickstart.sh) on the published artifacts, and packs
/// the host's archive once per test session into a folder the installer tests serve.
/// </summary>
internal static class ReleaseScripts
{
    private static readonly Lazy<Task<string>> _hostRelease = new(() => PackAsync(HostRid));
    private static readonly List<string> _folders = [];

    public static string HostRid => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? Artifacts.LinuxArm64 : Artifacts.LinuxX64;

    /// <summary>The other RID than the host's (an archive this machine must refuse).</summary>
    public static string ForeignRid => HostRid == Artifacts.LinuxX64 ? Artifacts.LinuxArm64 : Artifacts.LinuxX64;

    public static string Script(string name) => Path.Combine(Artifacts.RepoRoot, "build", name);

    /// <summary>What Directory.Build.props says; the archives carry it in VERSION and --version prints it.</summary>
    public static string Version { get; } =
        typeof(ReleaseScripts).Assembly.GetCustomAttributes(typeof(global::System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<global::System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion.Split('+')[0];

    /// <summary>A folder with peercompute-HOST.tar.gz, SHA256SUMS and install.sh, packed once; do not modify it.</summary>
    public static Task<string> HostReleaseAsync() => _hostRelease.Value;

    /// <summary>Runs build/package.sh for <paramref name="rid"/> into a new folder (with more arguments before the
    /// RID, e.g. --signing-key FILE); returns that folder.</summary>
    public static async Task<string> PackAsync(string rid, params string[] options)
    {
        Artifacts.Folder(rid);
        string output = NewFolder("release");
        var result = await TestProcess.RunAsync("bash", [Script("package.sh"), "--out", output, .. options, rid], timeout: TimeSpan.FromMinutes(5));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"build/package.sh {rid} failed: {result}");
        return output;
    }

    /// <summary>A new empty folder under /tmp, removed when the test session ends.</summary>
    public static string NewFolder(string label)
    {
        string folder = Directory.CreateTempSubdirectory($"peercompute-release-{label}-").FullName;
        lock (_folders)
            _folders.Add(folder);
        return folder;
    }

    /// <summary>A folder holding copies of the given files of <paramref name="from"/>.</summary>
    public static string CopyOf(string from, params string[] names)
    {
        string folder = NewFolder("copy");
        foreach (string name in names)
            File.Copy(Path.Combine(from, name), Path.Combine(folder, name));
        return folder;
    }

    /// <summary>
    /// Swaps the host's archive in <paramref name="folder"/> for another (one byte appended) and rewrites SHA256SUMS
    /// to vouch for it: what whoever controls the server can serve.
    /// </summary>
    public static async Task SubstituteArchiveAsync(string folder)
    {
        string name = $"peercompute-{HostRid}.tar.gz";
        string archive = Path.Combine(folder, name);
        await using (var stream = File.Open(archive, FileMode.Append))
            stream.WriteByte(0);
        await File.WriteAllTextAsync(Path.Combine(folder, "SHA256SUMS"), $"{Sha256Hex(archive)}  {name}\n");
    }

    public static string Sha256Hex(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Runs install.sh (build/'s, or <paramref name="script"/>) with dash (a strictly POSIX shell), with only the
    /// environment given here among the installer's own variables, HOME in a folder of the test's, and curl
    /// trusting the certificate of the <see cref="LoopbackFileServer"/>s.
    /// </summary>
    public static Task<ProcessResult> InstallAsync(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?>? env = null, string? script = null)
    {
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = NewFolder("home"),
            ["CURL_CA_BUNDLE"] = LoopbackFileServer.CaFile,
            ["PEERCOMPUTE_SHA256"] = null,
            ["PEERCOMPUTE_PUBLIC_KEY"] = null,
            ["PEERCOMPUTE_SIGNATURE"] = null,
            ["PEERCOMPUTE_HOME"] = null,
            ["PEERCOMPUTE_INSTALL_DIR"] = null,
            ["PEERCOMPUTE_VERSION"] = null,
            ["PEERCOMPUTE_BASE_URL"] = null,
            ["PEERCOMPUTE_ARCHIVE"] = null,
            ["PEERCOMPUTE_CHECKSUMS"] = null,
            ["PEERCOMPUTE_REPOSITORY"] = null,
        };
        foreach (var (key, value) in env ?? new Dictionary<string, string?>())
            environment[key] = value;
        return TestProcess.RunAsync("dash", [script ?? Script("install.sh"), .. args], environment, TimeSpan.FromMinutes(3));
    }

    public static void RemoveFolders()
    {
        lock (_folders)
        {
            foreach (string folder in _folders)
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
            _folders.Clear();
        }
    }
}

public static class ReleaseSessionHooks
{
    [After(TestSession)]
    public static void RemoveReleaseFolders() => ReleaseScripts.RemoveFolders();
}

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>
/// Finds the Native AOT release binaries that build/publish.sh leaves in <c>artifacts/&lt;rid&gt;/</c>
/// at the repository root.
/// </summary>
internal static class Artifacts
{
    public const string LinuxX64 = "linux-x64";
    public const string LinuxArm64 = "linux-arm64";

    /// <summary>What build/publish.sh puts in every <c>artifacts/&lt;rid&gt;/</c>, and nothing else.</summary>
    public static IReadOnlyList<string> Programs { get; } = ["gateway", "peercomputed", "peerctl"];

    /// <summary>Every published binary, as (RID, program): the data of the tests that check each one.</summary>
    public static IEnumerable<Func<(string Rid, string Program)>> EachBinary()
    {
        foreach (string rid in (string[])[LinuxX64, LinuxArm64])
            foreach (string program in (string[])["peerctl", "peercomputed", "gateway"])
                yield return () => (rid, program);
    }

    public static string RepoRoot => _repoRoot.Value;

    private static readonly Lazy<string> _repoRoot = new(FindRepoRoot);

    /// <summary><c>artifacts/&lt;rid&gt;</c>; throws with what to run when it was never published.</summary>
    public static string Folder(string rid)
    {
        string folder = Path.Combine(RepoRoot, "artifacts", rid);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"artifacts/{rid} does not exist: run `build/publish.sh {rid}` at the repository root ({RepoRoot}) before these tests.");
        return folder;
    }

    /// <summary><c>artifacts/&lt;rid&gt;/&lt;program&gt;</c>; throws with what to run when it is missing.</summary>
    public static string PathOf(string rid, string program)
    {
        string path = Path.Combine(Folder(rid), program);
        if (!File.Exists(path))
            throw new FileNotFoundException($"artifacts/{rid}/{program} is missing: run `build/publish.sh {rid}` at the repository root ({RepoRoot}) before these tests.", path);
        return path;
    }

    private static string FindRepoRoot()
    {
        // The tests run from tests/PeerCompute.System.Tests/bin/<config>/<tfm>/: walk up to the solution file.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PeerCompute.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No PeerCompute.slnx above {AppContext.BaseDirectory}: the system tests must run from a build inside the repository.");
    }
}

namespace PeerCompute.Fuzz.Tests;

internal static class Repository
{
    /// <summary>The checkout this test runs from (the folder holding PeerCompute.slnx).</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PeerCompute.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"PeerCompute.slnx not found above {AppContext.BaseDirectory}");
    }

    public static IEnumerable<string> TargetNames() => FuzzTargets.All.Select(t => t.Name);
}

using IOPath = System.IO.Path;

namespace PeerCompute.System.Tests.Build;

/// <summary>An empty folder of the test's own under /tmp, removed with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Path = Directory.CreateTempSubdirectory("peercompute-build-test-").FullName;

    public string Path { get; }

    /// <summary>Copies <paramref name="file"/> here, keeping its name and its execute bit.</summary>
    public string CopyIn(string file)
    {
        string copy = IOPath.Combine(Path, IOPath.GetFileName(file));
        File.Copy(file, copy);
        return copy;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover folder under /tmp must not fail a test that passed.
        }
    }
}

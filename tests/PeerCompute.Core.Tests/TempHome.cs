using PeerCompute.Core.Storage;

namespace PeerCompute.Core.Tests;

/// <summary>A fresh PEERCOMPUTE_HOME under /tmp, removed on dispose.</summary>
internal sealed class TempHome : IDisposable
{
    public TempHome()
    {
        Root = Directory.CreateTempSubdirectory("pc-core-test-").FullName;
        Home = new PeerComputeHome(Path.Combine(Root, "home"));
    }

    public string Root { get; }

    public PeerComputeHome Home { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A node's PEERCOMPUTE_HOME moved onto a small tmpfs of its own (we are root), which the test fills to the
/// last byte and frees again. The home keeps its path, so the node's environment is unchanged.
/// </summary>
internal sealed class SmallDisk : IAsyncDisposable
{
    private readonly string _mount;
    private readonly string _original;

    private SmallDisk(string mount, string original)
    {
        _mount = mount;
        _original = original;
    }

    public string Filler => Path.Combine(_mount, "filler");

    public static async Task<SmallDisk> UnderAsync(PeerNode node, string size = "2m")
    {
        string original = node.Home + ".before-tmpfs";
        Directory.Move(node.Home, original);
        Directory.CreateDirectory(node.Home);
        await RunAsync("mount", "-t", "tmpfs", "-o", $"size={size},mode=0700", "pc-faults", node.Home);
        var disk = new SmallDisk(node.Home, original);
        await RunAsync("cp", "-a", original + "/.", node.Home);
        return disk;
    }

    /// <summary>Fills the filesystem until the kernel says ENOSPC.</summary>
    public async Task FillAsync()
    {
        var dd = await TestProcess.RunAsync("dd", ["if=/dev/zero", $"of={Filler}", "bs=4k"]);
        if (!dd.StandardError.Contains("No space left", StringComparison.Ordinal))
            throw new InvalidOperationException($"dd did not fill the disk: {dd}");
        // The kernel may still hold a partial page; a second small file takes it.
        await TestProcess.RunAsync("dd", ["if=/dev/zero", $"of={Filler}2", "bs=1"]);
    }

    public void Free()
    {
        File.Delete(Filler);
        File.Delete(Filler + "2");
    }

    private static async Task RunAsync(params string[] command)
    {
        var result = await TestProcess.RunAsync(command[0], command[1..]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed: {result}");
    }

    public async ValueTask DisposeAsync()
    {
        // Lazy unmount: a provider that is being stopped may still hold the state lock open.
        await TestProcess.RunAsync("umount", ["-l", _mount]);
        Directory.Delete(_original, recursive: true);
    }
}

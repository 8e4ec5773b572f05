namespace PeerCompute.Testing;

/// <summary>
/// A filesystem of the test's own: a sparse file under /tmp, formatted and loop-mounted (needs root). Disposing
/// unmounts it (lazily when something still holds it), frees the loop device and deletes the file, also after a failure.
/// </summary>
public sealed class LoopFilesystem : IAsyncDisposable
{
    private readonly string _folder;
    private bool _mounted;

    private LoopFilesystem(string folder) => _folder = folder;

    /// <summary>Where the filesystem is mounted.</summary>
    public string MountPoint => Path.Combine(_folder, "mnt");

    /// <summary>The sparse file that holds the filesystem, on the host's own disk.</summary>
    public string BackingFile => Path.Combine(_folder, "disk.img");

    /// <param name="type">mkfs.<paramref name="type"/> formats it (xfs, btrfs, ext4).</param>
    /// <param name="mountOptions">Besides <c>loop</c>, e.g. <c>prjquota</c> for xfs.</param>
    public static async Task<LoopFilesystem> CreateAsync(string type, long sizeBytes, string? mountOptions = null)
    {
        var filesystem = new LoopFilesystem(Directory.CreateTempSubdirectory("pcfs-").FullName);
        try
        {
            Directory.CreateDirectory(filesystem.MountPoint);
            await using (var file = File.Create(filesystem.BackingFile))
                file.SetLength(sizeBytes);
            Ensure(await TestProcess.RunAsync($"mkfs.{type}", ["-q", filesystem.BackingFile], timeout: TimeSpan.FromMinutes(1)).ConfigureAwait(false), $"mkfs.{type}");
            string options = mountOptions is null ? "loop" : "loop," + mountOptions;
            Ensure(await TestProcess.RunAsync("mount", ["-t", type, "-o", options, filesystem.BackingFile, filesystem.MountPoint]).ConfigureAwait(false), $"mounting the {type} file with {options}");
            filesystem._mounted = true;
            return filesystem;
        }
        catch
        {
            await filesystem.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Bytes of the host's disk the backing file takes (its allocated blocks, not its apparent size).</summary>
    public async Task<long> AllocatedBytesAsync()
    {
        var result = await TestProcess.RunAsync("stat", ["-c", "%b %B", BackingFile]).ConfigureAwait(false);
        Ensure(result, "stat of the backing file");
        var parts = result.StandardOutput.Trim().Split(' ');
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_mounted)
        {
            if ((await TestProcess.RunAsync("umount", [MountPoint]).ConfigureAwait(false)).ExitCode != 0)
                await TestProcess.RunAsync("umount", ["--lazy", MountPoint]).ConfigureAwait(false);
            _mounted = false;
        }
        // mount -o loop frees its device on unmount (autoclear); a device still bound to the file (a lazy unmount) goes now.
        var bound = await TestProcess.RunAsync("losetup", ["--noheadings", "--output", "NAME", "--associated", BackingFile]).ConfigureAwait(false);
        foreach (string device in bound.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            await TestProcess.RunAsync("losetup", ["--detach", device]).ConfigureAwait(false);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Still held by a lazy unmount; the folder is under /tmp and named for the run.
        }
    }

    private static void Ensure(ProcessResult result, string what)
    {
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{what} failed: {result}");
    }
}

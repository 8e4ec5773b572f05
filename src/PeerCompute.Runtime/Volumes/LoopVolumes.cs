using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PeerCompute.Core.Storage;

namespace PeerCompute.Runtime.Volumes;

/// <summary>
/// Volumes as the host keeps them: each an ext4 filesystem in a sparse file (<c>&lt;key&gt;.img</c>) of exactly the
/// volume's size, attached to a loop device and mounted at <c>mnt/&lt;key&gt;</c> (nosuid, nodev); containers get its
/// <c>data</c> folder bind-mounted. The size is a real quota: the filesystem has no more blocks, so a write past it
/// fails with ENOSPC inside the container and the host's own filesystem only ever gives the file its size.
/// </summary>
/// <remarks>
/// Docker's <c>local</c> volume driver cannot do this itself on dockerd 20.10: it hands its options to mount(2), which
/// knows no <c>loop</c> option ("failed to mount local volume: ... loop: invalid argument"), and a loop device fixed at
/// creation would change number after a reboot. A bind source that is the filesystem's <c>data</c> folder, never the
/// bare mount point, also keeps a container that the engine restarts before the provider mounted the volume (a reboot)
/// from writing into the host's disk: the engine refuses a bind whose source does not exist.
/// </remarks>
internal sealed class LoopVolumes(string folder, string loopControlPath)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    private const string MountOptions = "loop,nosuid,nodev,noatime";

    public string Folder { get; } = folder;

    private string MountRoot => Path.Combine(Folder, "mnt");

    public string ImageOf(string key) => Path.Combine(Folder, key + ".img");

    public string MountPointOf(string key) => Path.Combine(MountRoot, key);

    /// <summary>What containers mount: a folder inside the volume's filesystem, so it exists only while that is mounted.</summary>
    public string DataOf(string key) => Path.Combine(MountPointOf(key), "data");

    private string RecordOf(string key) => Path.Combine(Folder, key + ".json");

    /// <summary>Why volumes cannot be made here; null when they can.</summary>
    public string? Problem => File.Exists(loopControlPath)
        ? null
        : $"this provider cannot make volumes: {loopControlPath} is absent (no loop device support in this kernel or container; a provider in a container needs the host's /dev/loop-control and loop devices)";

    public async Task<List<VolumeRecord>> LoadAllAsync(List<string> problems, CancellationToken cancellationToken)
    {
        var records = new List<VolumeRecord>();
        if (!Directory.Exists(Folder))
            return records;
        foreach (string file in Directory.EnumerateFiles(Folder, "*.json"))
        {
            try
            {
                var record = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), VolumeJsonContext.Default.VolumeRecord);
                if (record is null || record.Key + ".json" != Path.GetFileName(file) || record.Key != VolumeRecord.KeyFor(record.Owner, record.Name))
                    throw new JsonException("the record does not match its file name");
                records.Add(record);
            }
            catch (JsonException ex)
            {
                problems.Add($"volume record {Path.GetFileName(file)}: unreadable ({ex.Message}); left in place, its volume is not offered");
            }
        }
        return records;
    }

    /// <summary>Makes the filesystem, mounts it, then writes the record: a crash before the record leaves no volume behind, only a file the next create replaces.</summary>
    public async Task CreateAsync(VolumeRecord record, CancellationToken cancellationToken)
    {
        EnsureFolders();
        string image = ImageOf(record.Key);
        string partial = image + ".partial";
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            file.SetLength(record.SizeBytes);
        try
        {
            // No reserved blocks: the size the owner asked for is what the container can write (it has no CAP_SYS_RESOURCE to use them anyway).
            await RunAsync("mkfs.ext4", ["-q", "-F", "-m", "0", "-L", "pcvol", partial], $"formatting volume {record.Name}", cancellationToken).ConfigureAwait(false);
            File.Move(partial, image, overwrite: true);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
        try
        {
            await EnsureMountedAsync(record, cancellationToken).ConfigureAwait(false);
            await AtomicFile.WriteAsync(RecordOf(record.Key), JsonSerializer.SerializeToUtf8Bytes(record, VolumeJsonContext.Default.VolumeRecord), AtomicFile.OwnerOnly, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            await RemoveAsync(record.Key, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Mounts the volume unless it is; true when it had to (after a reboot, or a new volume).</summary>
    public async Task<bool> EnsureMountedAsync(VolumeRecord record, CancellationToken cancellationToken)
    {
        string mountPoint = MountPointOf(record.Key);
        if (IsMountPoint(mountPoint))
            return false;
        string image = ImageOf(record.Key);
        if (!File.Exists(image))
            throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, $"volume {record.Name}: its file {image} is missing");
        // Attached but not mounted here: something else (a container's mount namespace outliving an unmount) still has
        // the filesystem open, and mounting it a second time through another device would corrupt it.
        var attached = await RunAsync("losetup", ["--noheadings", "--output", "NAME", "--associated", image], $"checking volume {record.Name}", cancellationToken).ConfigureAwait(false);
        if (attached.Trim() is { Length: > 0 } device)
            throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, $"volume {record.Name}: its file is still attached to {device.Split('\n')[0]} but not mounted at {mountPoint}; it is not mounted twice");
        CreatePrivateFolder(mountPoint);
        await RunAsync("mount", ["-t", "ext4", "-o", MountOptions, image, mountPoint], $"mounting volume {record.Name}", cancellationToken).ConfigureAwait(false);
        string data = DataOf(record.Key);
        if (!Directory.Exists(data))
        {
            // Writable by whatever user the image runs as; only this owner's containers ever see it.
            Directory.CreateDirectory(data);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(data, (UnixFileMode)0x1FF);
        }
        return true;
    }

    /// <summary>Unmounts (the loop device goes with it: mount -o loop set autoclear), then deletes record, file and mount point.</summary>
    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        string mountPoint = MountPointOf(key);
        if (IsMountPoint(mountPoint))
            await RunAsync("umount", [mountPoint], "unmounting a volume", cancellationToken).ConfigureAwait(false);
        File.Delete(RecordOf(key));
        File.Delete(ImageOf(key));
        try
        {
            Directory.Delete(mountPoint);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Bytes the mounted filesystem uses; null when it is not mounted.</summary>
    public long? UsedBytes(string key)
    {
        string mountPoint = MountPointOf(key);
        if (!IsMountPoint(mountPoint))
            return null;
        var drive = new DriveInfo(mountPoint);
        return drive.TotalSize - drive.TotalFreeSpace;
    }

    private void EnsureFolders()
    {
        CreatePrivateFolder(Folder);
        CreatePrivateFolder(MountRoot);
    }

    private static void CreatePrivateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(path);
        else
            Directory.CreateDirectory(path, PeerComputeHome.FolderMode);
    }

    /// <summary>Whether a filesystem is mounted exactly at <paramref name="path"/> (per /proc/self/mountinfo).</summary>
    public static bool IsMountPoint(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd('/');
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] fields = line.Split(' ', 6);
            if (fields.Length > 4 && Unescape(fields[4]) == full)
                return true;
        }
        return false;
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var text = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, string doing, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new Win32Exception($"could not start {file}");
        }
        catch (Win32Exception ex)
        {
            throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, $"{doing}: {file} could not run ({ex.Message}; volumes need util-linux and e2fsprogs)", ex);
        }
        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CommandTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                if (cancellationToken.IsCancellationRequested)
                    throw;
                throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, $"{doing}: {file} did not finish within {CommandTimeout.TotalSeconds:0} s");
            }
            string output = await stdout.ConfigureAwait(false);
            string error = (await stderr.ConfigureAwait(false)).Trim();
            if (process.ExitCode != 0)
                throw new RuntimeException(RuntimeErrorCode.VolumesUnavailable, $"{doing}: {file} failed (exit {process.ExitCode}): {error}");
            return output;
        }
    }
}

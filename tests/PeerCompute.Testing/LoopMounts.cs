namespace PeerCompute.Testing;

/// <summary>
/// Cleans up after tests of volumes: every filesystem mounted under a test's folder is unmounted (lazily when still
/// held) and every loop device attached to a file there is detached, so neither outlives the test, even a failed one.
/// </summary>
public static class LoopMounts
{
    /// <summary>Mount points at or under <paramref name="folder"/>, deepest first.</summary>
    public static IReadOnlyList<string> Under(string folder)
    {
        string root = Path.GetFullPath(folder).TrimEnd('/');
        return [.. File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ', 6))
            .Where(fields => fields.Length > 4)
            .Select(fields => fields[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(point => point == root || point.StartsWith(root + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(point => point.Length)];
    }

    public static async Task RemoveUnderAsync(string folder)
    {
        if (!Directory.Exists(folder))
            return;
        foreach (string point in Under(folder))
        {
            if ((await TestProcess.RunAsync("umount", [point]).ConfigureAwait(false)).ExitCode != 0)
                await TestProcess.RunAsync("umount", ["--lazy", point]).ConfigureAwait(false);
        }
        foreach (string file in Directory.EnumerateFiles(folder, "*.img", SearchOption.AllDirectories))
        {
            var bound = await TestProcess.RunAsync("losetup", ["--noheadings", "--output", "NAME", "--associated", file]).ConfigureAwait(false);
            foreach (string device in bound.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                await TestProcess.RunAsync("losetup", ["--detach", device]).ConfigureAwait(false);
        }
    }

    /// <summary>Bytes of the host's disk a file takes (its allocated blocks, not its apparent size).</summary>
    public static async Task<long> AllocatedBytesAsync(string file)
    {
        var result = await TestProcess.RunAsync("stat", ["-c", "%b %B", file]).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"stat {file}: {result}");
        var parts = result.StandardOutput.Trim().Split(' ');
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}

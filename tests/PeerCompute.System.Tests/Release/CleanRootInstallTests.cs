using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// install.sh in a clean root filesystem: only a static busybox (its sh, tar, gzip, sha256sum...) and the
/// C library the programs link against, entered with chroot (the tests run as root). No bash, no curl, no
/// coreutils: what a minimal Debian or a Raspberry Pi has is more than this.
/// </summary>
[NotInParallel("chroot")]
internal sealed partial class CleanRootInstallTests
{
    [Test]
    public async Task Busybox_sh_installs_into_usr_local_bin_and_the_programs_run_there()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        string root = await BuildRootAsync();
        // The release as a local folder (a mounted USB stick): the installer downloads only over https, and
        // busybox's wget has no certificate store to trust a test server with.
        Directory.CreateDirectory(Path.Combine(root, "release"));
        foreach (string name in new[] { $"peercompute-{ReleaseScripts.HostRid}.tar.gz", "SHA256SUMS" })
            File.Copy(Path.Combine(release, name), Path.Combine(root, "release", name));

        // As root inside it, with an empty environment: the installer picks /usr/local/bin by itself.
        var install = await TestProcess.RunAsync("env", ["-i", "PATH=/bin", "HOME=/root", "/usr/sbin/chroot", root, "/bin/sh", "/install.sh", "--base-url", "/release"]);

        await Assert.That(install.ExitCode).IsEqualTo(0).Because(install.ToString());
        await Assert.That(install.StandardOutput).Contains("installed peerctl, peercomputed and gateway");
        await Assert.That(install.StandardOutput).Contains($"peerctl --version: {ReleaseScripts.Version}");
        foreach (string program in Artifacts.Programs)
        {
            var version = await TestProcess.RunAsync("env", ["-i", "PATH=/bin", "HOME=/root", "/usr/sbin/chroot", root, $"/usr/local/bin/{program}", "--version"]);
            await Assert.That(version.ExitCode).IsEqualTo(0).Because(version.ToString());
            await Assert.That(version.StandardOutput.Trim()).IsEqualTo(ReleaseScripts.Version);
        }
        await Assert.That(File.Exists(Path.Combine(root, "usr/local/share/bash-completion/completions/peerctl"))).IsTrue();
        await Assert.That(File.Exists(Path.Combine(root, "usr/local/share/peercompute/systemd/gateway.service"))).IsTrue();
    }

    /// <summary>/bin with busybox and its applet links, /tmp, /dev/null, /root, the C library, and /install.sh.</summary>
    private static async Task<string> BuildRootAsync()
    {
        string root = ReleaseScripts.NewFolder("rootfs");
        foreach (string dir in new[] { "bin", "tmp", "root", "dev" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));

        string busybox = await StaticBusyboxAsync();
        File.Copy(busybox, Path.Combine(root, "bin", "busybox"));
        var applets = await TestProcess.RunAsync(busybox, ["--list"]);
        foreach (string applet in applets.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (applet != "busybox")
                File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        }
        var mknod = await TestProcess.RunAsync("mknod", ["-m", "666", Path.Combine(root, "dev", "null"), "c", "1", "3"]);
        if (mknod.ExitCode != 0)
            throw new InvalidOperationException($"mknod /dev/null in the test root failed (the tests need root): {mknod}");

        // Exactly the shared objects the published peerctl loads (the three programs link the same ones).
        var ldd = await TestProcess.RunAsync("ldd", [Artifacts.PathOf(ReleaseScripts.HostRid, "peerctl")]);
        if (ldd.ExitCode != 0)
            throw new InvalidOperationException($"ldd failed: {ldd}");
        foreach (Match match in LibraryPath().Matches(ldd.StandardOutput))
        {
            string library = match.Groups[1].Value;
            string target = Path.Combine(root, library.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(library, target, overwrite: true); // follows the host's symlinks to the real file
        }

        File.Copy(ReleaseScripts.Script("install.sh"), Path.Combine(root, "install.sh"));
        return root;
    }

    private static async Task<string> StaticBusyboxAsync()
    {
        foreach (string candidate in new[] { "/bin/busybox", "/usr/bin/busybox" })
        {
            if (!File.Exists(candidate))
                continue;
            // ldd fails on a static executable.
            var ldd = await TestProcess.RunAsync("ldd", [candidate]);
            if (ldd.ExitCode != 0)
                return candidate;
        }
        throw new InvalidOperationException("No static busybox: apt-get install busybox-static (build/ci/setup.sh does).");
    }

    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)".
    [GeneratedRegex(@"(/\S+\.so[.\d]*)\s+\(0x", RegexOptions.Multiline)]
    private static partial Regex LibraryPath();
}

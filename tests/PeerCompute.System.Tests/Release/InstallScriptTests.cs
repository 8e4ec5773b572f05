using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// build/install.sh run by dash (POSIX sh only) against the packed release served on loopback over https: installs
/// programs that run, and refuses, installing nothing, what it must refuse (plain http, a checksum mismatch).
/// </summary>
internal sealed class InstallScriptTests
{
    private static string ArchiveName => $"peercompute-{ReleaseScripts.HostRid}.tar.gz";

    [Test]
    public async Task Installs_from_a_served_release_into_the_given_folder_and_the_programs_run()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        await using var server = new LoopbackFileServer(release);
        string prefix = ReleaseScripts.NewFolder("prefix");
        string bin = Path.Combine(prefix, "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin], new Dictionary<string, string?> { ["PEERCOMPUTE_BASE_URL"] = server.BaseUrl });

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(server.Requested).IsEquivalentTo(new[] { "/SHA256SUMS", "/" + ArchiveName });
        await Assert.That(result.StandardOutput).Contains($"peerctl --version: {ReleaseScripts.Version}");
        foreach (string program in Artifacts.Programs)
        {
            var version = await TestProcess.RunAsync(Path.Combine(bin, program), ["--version"],
                new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = ReleaseScripts.NewFolder("home") });
            await Assert.That(version.ExitCode).IsEqualTo(0).Because(version.ToString());
            await Assert.That(version.StandardOutput.Trim()).IsEqualTo(ReleaseScripts.Version);
        }

        // The extras land beside bin/, and the units name the programs where they really are.
        await Assert.That(File.Exists(Path.Combine(prefix, "share", "bash-completion", "completions", "peerctl"))).IsTrue();
        string unit = await File.ReadAllTextAsync(Path.Combine(prefix, "share", "peercompute", "systemd", "peercomputed.service"));
        await Assert.That(unit).Contains($"ExecStart={bin}/peercomputed\n");
        // Nothing else in bin: no temporary files left behind.
        await Assert.That(Directory.GetFileSystemEntries(bin).Select(e => Path.GetFileName(e)!).Order(StringComparer.Ordinal).ToArray())
            .IsEquivalentTo(Artifacts.Programs.ToArray());
    }

    [Test]
    public async Task Installing_again_replaces_the_programs_in_place()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");
        var env = new Dictionary<string, string?> { ["PEERCOMPUTE_BASE_URL"] = server.BaseUrl, ["PEERCOMPUTE_INSTALL_DIR"] = bin };
        var first = await ReleaseScripts.InstallAsync([], env);
        await Assert.That(first.ExitCode).IsEqualTo(0).Because(first.ToString());
        // A damaged installed program, as after a disk error: the second install must overwrite it.
        await File.WriteAllTextAsync(Path.Combine(bin, "peerctl"), "#!/bin/sh\nexit 3\n");

        var second = await ReleaseScripts.InstallAsync([], env);

        await Assert.That(second.ExitCode).IsEqualTo(0).Because(second.ToString());
        await Assert.That(ReleaseScripts.Sha256Hex(Path.Combine(bin, "peerctl"))).IsEqualTo(ReleaseScripts.Sha256Hex(Artifacts.PathOf(ReleaseScripts.HostRid, "peerctl")));
    }

    [Test]
    public async Task Refuses_an_archive_whose_checksum_does_not_match_and_installs_nothing()
    {
        string release = ReleaseScripts.CopyOf(await ReleaseScripts.HostReleaseAsync(), ArchiveName, "SHA256SUMS");
        // One flipped byte in the middle of the archive: a damaged or substituted download.
        string archive = Path.Combine(release, ArchiveName);
        await using (var stream = File.Open(archive, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            int b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0xFF));
        }
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl]);

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains($"checksum mismatch for {ArchiveName}");
        await Assert.That(result.StandardError).Contains("nothing was installed");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task Refuses_plain_http_before_downloading_anything()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        await using var server = new LoopbackFileServer(release, tls: false);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl]);

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains($"refusing to download over plain http ({server.BaseUrl})");
        await Assert.That(server.Requested).IsEmpty();
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task Installs_with_a_pinned_sha256_and_asks_for_no_SHA256SUMS()
    {
        string release = ReleaseScripts.CopyOf(await ReleaseScripts.HostReleaseAsync(), ArchiveName);
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");
        string pinned = ReleaseScripts.Sha256Hex(Path.Combine(release, ArchiveName)).ToUpperInvariant();

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl, "--sha256", pinned]);

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(result.StandardOutput).Contains($"checksum ok ({ArchiveName}, pinned)");
        await Assert.That(server.Requested).IsEquivalentTo(new[] { "/" + ArchiveName });
        await Assert.That(File.Exists(Path.Combine(bin, "peercomputed"))).IsTrue();
    }

    [Test]
    public async Task Refuses_a_substituted_archive_that_its_server_vouches_for_when_the_sha256_is_pinned()
    {
        // Whoever controls the server swaps the archive and SHA256SUMS together: only the pinned checksum catches it.
        string genuine = Path.Combine(await ReleaseScripts.HostReleaseAsync(), ArchiveName);
        string release = ReleaseScripts.CopyOf(Path.GetDirectoryName(genuine)!, ArchiveName);
        await ReleaseScripts.SubstituteArchiveAsync(release);
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var malformed = await ReleaseScripts.InstallAsync(["--bin-dir", Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin"), "--base-url", server.BaseUrl, "--sha256", new string('a', 63)]);
        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl],
            new Dictionary<string, string?> { ["PEERCOMPUTE_SHA256"] = ReleaseScripts.Sha256Hex(genuine) });

        await Assert.That(malformed.ExitCode).IsEqualTo(1);
        await Assert.That(malformed.StandardError).Contains("it needs 64 hex digits, not 63");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains($"checksum mismatch for {ArchiveName}: the pinned --sha256 is {ReleaseScripts.Sha256Hex(genuine)}");
        await Assert.That(result.StandardError).Contains("nothing was installed");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task Refuses_when_SHA256SUMS_has_no_line_for_the_archive()
    {
        string release = ReleaseScripts.CopyOf(await ReleaseScripts.HostReleaseAsync(), ArchiveName);
        await File.WriteAllTextAsync(Path.Combine(release, "SHA256SUMS"), $"{new string('0', 64)}  peercompute-{ReleaseScripts.ForeignRid}.tar.gz\n");
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl]);

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains($"has no checksum for {ArchiveName}");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    [Arguments("Linux", "armv7l", "32-bit ARM")]
    [Arguments("Linux", "riscv64", "unsupported architecture 'riscv64'")]
    [Arguments("Linux", "i686", "unsupported architecture 'i686'")]
    [Arguments("Darwin", "arm64", "macOS is not supported")]
    [Arguments("FreeBSD", "amd64", "unsupported operating system 'FreeBSD'")]
    public async Task Refuses_an_unsupported_platform_before_downloading_anything(string os, string machine, string reason)
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        await using var server = new LoopbackFileServer(release);
        // uname answers for another platform: a shim first on PATH.
        string shims = ReleaseScripts.NewFolder("uname");
        string uname = Path.Combine(shims, "uname");
        await File.WriteAllTextAsync(uname, $"#!/bin/sh\ncase \"$1\" in -m) echo {machine} ;; *) echo {os} ;; esac\n");
        File.SetUnixFileMode(uname, (UnixFileMode)Convert.ToInt32("755", 8));
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl],
            new Dictionary<string, string?> { ["PATH"] = $"{shims}:{Environment.GetEnvironmentVariable("PATH")}" });

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains(reason);
        await Assert.That(server.Requested).IsEmpty();
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task Installs_a_local_archive_without_any_server()
    {
        // The USB-stick case: the archive and SHA256SUMS copied side by side, no base URL, no network.
        string release = ReleaseScripts.CopyOf(await ReleaseScripts.HostReleaseAsync(), ArchiveName, "SHA256SUMS");
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--archive", Path.Combine(release, ArchiveName), "--bin-dir", bin]);

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(result.StandardOutput).Contains("checksum ok");
        await Assert.That(File.Exists(Path.Combine(bin, "gateway"))).IsTrue();
    }

    [Test]
    public async Task Refuses_a_local_archive_without_SHA256SUMS_or_for_another_architecture()
    {
        string alone = ReleaseScripts.CopyOf(await ReleaseScripts.HostReleaseAsync(), ArchiveName);
        string foreign = Path.Combine(ReleaseScripts.NewFolder("foreign"), $"peercompute-{ReleaseScripts.ForeignRid}.tar.gz");
        await File.WriteAllTextAsync(foreign, "not for this machine");
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var unverified = await ReleaseScripts.InstallAsync(["--archive", Path.Combine(alone, ArchiveName), "--bin-dir", bin]);
        var wrongArch = await ReleaseScripts.InstallAsync(["--archive", foreign, "--bin-dir", bin]);

        await Assert.That(unverified.ExitCode).IsEqualTo(1);
        await Assert.That(unverified.StandardError).Contains("no SHA256SUMS beside");
        await Assert.That(wrongArch.ExitCode).IsEqualTo(1);
        await Assert.That(wrongArch.StandardError).Contains($"is not for this machine: it needs {ArchiveName}");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task Without_a_release_to_download_from_it_says_what_to_give()
    {
        // The copy in the repository does not know its release (the release workflow writes it in).
        var result = await ReleaseScripts.InstallAsync(["--bin-dir", Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin")]);

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("give --base-url URL");
    }
}

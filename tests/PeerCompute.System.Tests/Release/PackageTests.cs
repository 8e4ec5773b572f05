using PeerCompute.System.Tests.Build;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>build/package.sh: one .tar.gz per RID with the programs and their extras, SHA256SUMS that match, reproducible.</summary>
internal sealed class PackageTests
{
    private static readonly string[] ArchiveEntries =
    [
        "VERSION", "completions/", "completions/peerctl.bash", "gateway", "peercomputed", "peerctl",
        "systemd/", "systemd/gateway.service", "systemd/peercomputed.service",
    ];

    [Test]
    public async Task Archive_holds_the_programs_and_extras_and_SHA256SUMS_matches_it()
    {
        string release = await ReleaseScripts.HostReleaseAsync();
        string name = $"peercompute-{ReleaseScripts.HostRid}.tar.gz";
        string archive = Path.Combine(release, name);

        string[] sums = await File.ReadAllLinesAsync(Path.Combine(release, "SHA256SUMS"));
        await Assert.That(sums).IsEquivalentTo(new[] { $"{ReleaseScripts.Sha256Hex(archive)}  {name}" });

        var list = await TestProcess.RunAsync("tar", ["-tzf", archive]);
        await Assert.That(list.ExitCode).IsEqualTo(0).Because(list.ToString());
        string prefix = $"peercompute-{ReleaseScripts.HostRid}/";
        var entries = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(e => e != prefix).ToArray();
        await Assert.That(entries.All(e => e.StartsWith(prefix, StringComparison.Ordinal))).IsTrue().Because(list.StandardOutput);
        await Assert.That(entries.Select(e => e[prefix.Length..]).Order(StringComparer.Ordinal).ToArray()).IsEquivalentTo(ArchiveEntries);

        // The programs inside are the published ones, byte for byte, and VERSION is the build's version.
        string extracted = ReleaseScripts.NewFolder("extract");
        var unpack = await TestProcess.RunAsync("tar", ["-xzf", archive, "-C", extracted]);
        await Assert.That(unpack.ExitCode).IsEqualTo(0).Because(unpack.ToString());
        foreach (string program in Artifacts.Programs)
        {
            string packed = Path.Combine(extracted, prefix, program);
            await Assert.That(ReleaseScripts.Sha256Hex(packed)).IsEqualTo(ReleaseScripts.Sha256Hex(Artifacts.PathOf(ReleaseScripts.HostRid, program)));
            await Assert.That(File.GetUnixFileMode(packed).HasFlag(UnixFileMode.OtherExecute)).IsTrue();
        }
        await Assert.That((await File.ReadAllTextAsync(Path.Combine(extracted, prefix, "VERSION"))).Trim()).IsEqualTo(ReleaseScripts.Version);
    }

    [Test]
    public async Task Packing_twice_gives_identical_archives()
    {
        string first = await ReleaseScripts.HostReleaseAsync();
        string second = await ReleaseScripts.PackAsync(ReleaseScripts.HostRid);
        string name = $"peercompute-{ReleaseScripts.HostRid}.tar.gz";

        await Assert.That(ReleaseScripts.Sha256Hex(Path.Combine(second, name))).IsEqualTo(ReleaseScripts.Sha256Hex(Path.Combine(first, name)));
        await Assert.That(await File.ReadAllTextAsync(Path.Combine(second, "SHA256SUMS"))).IsEqualTo(await File.ReadAllTextAsync(Path.Combine(first, "SHA256SUMS")));
    }

    [Test]
    public async Task Refuses_binaries_of_the_wrong_architecture()
    {
        // A linux-arm64 folder holding the host's x64 programs: packing it would ship binaries that cannot run.
        string artifacts = ReleaseScripts.NewFolder("wrong-arch");
        string rid = ReleaseScripts.ForeignRid;
        Directory.CreateDirectory(Path.Combine(artifacts, rid));
        foreach (string program in Artifacts.Programs)
            File.Copy(Artifacts.PathOf(ReleaseScripts.HostRid, program), Path.Combine(artifacts, rid, program));
        string output = ReleaseScripts.NewFolder("wrong-arch-out");

        var result = await TestProcess.RunAsync("bash", [ReleaseScripts.Script("package.sh"), "--artifacts", artifacts, "--out", output, rid]);

        await Assert.That(result.ExitCode).IsNotEqualTo(0);
        await Assert.That(result.StandardError).Contains($"is not a {rid} executable");
        await Assert.That(File.Exists(Path.Combine(output, "SHA256SUMS"))).IsFalse();
    }

    /// <summary>The arm64 archive's programs run: under qemu user emulation on an x64 machine.</summary>
    [Test]
    public async Task Arm64_archive_programs_run_and_print_the_version()
    {
        string release = await ReleaseScripts.PackAsync(Artifacts.LinuxArm64);
        string extracted = ReleaseScripts.NewFolder("arm64");
        var unpack = await TestProcess.RunAsync("tar", ["-xzf", Path.Combine(release, "peercompute-linux-arm64.tar.gz"), "-C", extracted]);
        await Assert.That(unpack.ExitCode).IsEqualTo(0).Because(unpack.ToString());

        foreach (string program in Artifacts.Programs)
        {
            string binary = Path.Combine(extracted, "peercompute-linux-arm64", program);
            var run = await ReleaseProcess.RunAsync(Artifacts.LinuxArm64, binary, ["--version"],
                new Dictionary<string, string> { ["PEERCOMPUTE_HOME"] = ReleaseScripts.NewFolder("arm64-home") });
            await Assert.That(run.ExitCode).IsEqualTo(0).Because(run.ToString());
            await Assert.That(run.StandardOutput.Trim()).IsEqualTo(ReleaseScripts.Version);
        }
    }
}

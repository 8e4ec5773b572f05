using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

/// <summary>
/// libsodium is linked into every binary (NSec needs exactly 1.0.22; Debian 12's libsodium23 is 1.0.18
/// and fails NSec's check), so no binary may ask the dynamic loader for it.
/// </summary>
internal sealed partial class StaticLibsodiumTests
{
    [Test]
    [Arguments("peerctl")]
    [Arguments("peercomputed")]
    [Arguments("gateway")]
    public async Task Ldd_of_each_x64_binary_lists_no_libsodium(string program)
    {
        string binary = Artifacts.PathOf(Artifacts.LinuxX64, program);

        var ldd = await ReleaseProcess.RunToolAsync("ldd", [binary]);

        await Assert.That(ldd.ExitCode).IsEqualTo(0).Because(ldd.ToString());
        // ldd really resolved the binary's libraries (a static or foreign binary prints no libc line).
        await Assert.That(ldd.StandardOutput).Contains("libc.so.6");
        await Assert.That(ldd.StandardOutput).DoesNotContain("sodium");
    }

    [Test]
    [MethodDataSource(typeof(Artifacts), nameof(Artifacts.EachBinary))]
    public async Task No_binary_needs_a_shared_libsodium(string rid, string program)
    {
        // readelf reads the dynamic section of any architecture, so this covers the arm64 binaries too.
        string binary = Artifacts.PathOf(rid, program);

        var readelf = await ReleaseProcess.RunToolAsync("readelf", ["--dynamic", "--wide", binary]);
        string[] needed = NeededLibrary().Matches(readelf.StandardOutput).Select(match => match.Groups[1].Value).ToArray();

        await Assert.That(readelf.ExitCode).IsEqualTo(0).Because(readelf.ToString());
        await Assert.That(needed).Contains("libc.so.6");
        await Assert.That(needed.Where(library => library.Contains("sodium", StringComparison.Ordinal))).IsEmpty();
    }

    [GeneratedRegex(@"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")]
    private static partial Regex NeededLibrary();
}

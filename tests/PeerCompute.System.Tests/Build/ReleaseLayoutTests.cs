using System.Runtime.Versioning;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

/// <summary>build/publish.sh leaves one self-contained executable per program and RID, and nothing else.</summary>
[SupportedOSPlatform("linux")]
internal sealed class ReleaseLayoutTests
{
    [Test]
    [Arguments(Artifacts.LinuxX64)]
    [Arguments(Artifacts.LinuxArm64)]
    public async Task Each_rid_folder_holds_exactly_the_three_programs(string rid)
    {
        // No libsodium.so, no .dbg/.pdb, no json manifests: anything beside a binary means it is not one file.
        string[] entries = Directory.EnumerateFileSystemEntries(Artifacts.Folder(rid))
            .Select(entry => Path.GetFileName(entry))
            .Order(StringComparer.Ordinal)
            .ToArray();

        await Assert.That(string.Join(" ", entries)).IsEqualTo(string.Join(" ", Artifacts.Programs));
    }

    [Test]
    [MethodDataSource(typeof(Artifacts), nameof(Artifacts.EachBinary))]
    public async Task Each_binary_is_a_64_bit_executable_for_its_rid(string rid, string program)
    {
        string binary = Artifacts.PathOf(rid, program);
        var header = ElfHeader.Read(binary);

        await Assert.That(header.Is64Bit).IsTrue();
        await Assert.That(header.Machine).IsEqualTo(rid == Artifacts.LinuxX64 ? ElfHeader.MachineX86_64 : ElfHeader.MachineAArch64);
        // Native AOT links position-independent executables: ELF type "shared object".
        await Assert.That(header.Type).IsEqualTo(ElfHeader.TypeDynamic);
        await Assert.That(File.GetUnixFileMode(binary).HasFlag(UnixFileMode.UserExecute)).IsTrue();
    }
}

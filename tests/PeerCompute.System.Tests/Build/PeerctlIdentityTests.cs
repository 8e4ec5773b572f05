using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

/// <summary>
/// `peerctl init` and `peerctl id` call libsodium (NSec Ed25519) in the released binaries: NSec refuses
/// to start unless it finds libsodium 1.0.22, so these prove the statically linked copy is there and works.
/// </summary>
internal sealed class PeerctlIdentityTests
{
    [Test]
    [Arguments(Artifacts.LinuxX64)]
    [Arguments(Artifacts.LinuxArm64)]
    public async Task Init_then_id_prints_the_peer_id_of_the_new_key(string rid)
    {
        using var folder = new TempFolder();
        using var home = new TempFolder();
        string peerctl = folder.CopyIn(Artifacts.PathOf(rid, "peerctl"));
        var environment = new Dictionary<string, string> { [PeerComputeHome.EnvironmentVariable] = home.Path };

        var init = await ReleaseProcess.RunAsync(rid, peerctl, ["init"], environment);
        await Assert.That(init.ExitCode).IsEqualTo(0).Because(init.ToString());

        var id = await ReleaseProcess.RunAsync(rid, peerctl, ["id"], environment);
        await Assert.That(id.ExitCode).IsEqualTo(0).Because(id.ToString());

        string printed = id.StandardOutput.Trim();
        await Assert.That(printed).StartsWith("12D3KooW");
        await Assert.That(PeerId.TryParse(printed, out _)).IsTrue().Because(printed);
        await Assert.That(init.StandardOutput).Contains(printed);
        // The same key read by this test process (JIT, NuGet's shared libsodium) gives the same PeerId.
        using var identity = IdentityStore.Load(new PeerComputeHome(home.Path));
        await Assert.That(identity.PeerId.ToString()).IsEqualTo(printed);
    }

    [Test]
    public async Task A_key_created_by_the_arm64_binary_has_the_same_peer_id_on_x64()
    {
        using var folder = new TempFolder();
        using var home = new TempFolder();
        string arm64 = Path.Combine(folder.Path, "arm64", "peerctl");
        string x64 = Path.Combine(folder.Path, "x64", "peerctl");
        Directory.CreateDirectory(Path.GetDirectoryName(arm64)!);
        Directory.CreateDirectory(Path.GetDirectoryName(x64)!);
        File.Copy(Artifacts.PathOf(Artifacts.LinuxArm64, "peerctl"), arm64);
        File.Copy(Artifacts.PathOf(Artifacts.LinuxX64, "peerctl"), x64);
        var environment = new Dictionary<string, string> { [PeerComputeHome.EnvironmentVariable] = home.Path };

        var init = await ReleaseProcess.RunAsync(Artifacts.LinuxArm64, arm64, ["init"], environment);
        var onArm64 = await ReleaseProcess.RunAsync(Artifacts.LinuxArm64, arm64, ["id"], environment);
        var onX64 = await ReleaseProcess.RunAsync(Artifacts.LinuxX64, x64, ["id"], environment);

        await Assert.That(init.ExitCode).IsEqualTo(0).Because(init.ToString());
        await Assert.That(onArm64.ExitCode).IsEqualTo(0).Because(onArm64.ToString());
        await Assert.That(onX64.ExitCode).IsEqualTo(0).Because(onX64.ToString());
        await Assert.That(onX64.StandardOutput.Trim()).IsEqualTo(onArm64.StandardOutput.Trim());
    }
}

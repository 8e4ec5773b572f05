using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Tests;

[NotInParallel(nameof(IdentityStore.KeyEnvironmentVariable))]
public class IdentityStoreTests
{
    [Test]
    public async Task Init_creates_a_0600_key_in_a_0700_folder_and_loads_it_back()
    {
        using var temp = new TempHome();
        using var created = IdentityStore.Create(temp.Home, force: false);
        await Assert.That(File.GetUnixFileMode(temp.Home.IdentityKeyFile)).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await Assert.That(File.GetUnixFileMode(temp.Home.Path)).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var loaded = IdentityStore.Load(temp.Home);
        await Assert.That(loaded.PeerId).IsEqualTo(created.PeerId);
        await Assert.That(created.PeerId.ToString()).StartsWith("12D3KooW");
    }

    [Test]
    public async Task Init_refuses_to_replace_an_identity_without_force()
    {
        using var temp = new TempHome();
        using var first = IdentityStore.Create(temp.Home, force: false);
        await Assert.That(() => IdentityStore.Create(temp.Home, force: false)).Throws<IdentityException>().WithMessageContaining("--force");
        using var loaded = IdentityStore.Load(temp.Home);
        await Assert.That(loaded.PeerId).IsEqualTo(first.PeerId);
        using var second = IdentityStore.Create(temp.Home, force: true);
        await Assert.That(second.PeerId).IsNotEqualTo(first.PeerId);
    }

    [Test]
    public async Task A_key_readable_by_others_is_refused_with_the_fix()
    {
        using var temp = new TempHome();
        IdentityStore.Create(temp.Home, force: false).Dispose();
        File.SetUnixFileMode(temp.Home.IdentityKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        await Assert.That(() => IdentityStore.Load(temp.Home)).Throws<IdentityException>().WithMessageContaining("chmod 600");
    }

    [Test]
    public async Task A_missing_key_says_to_run_init()
    {
        using var temp = new TempHome();
        await Assert.That(() => IdentityStore.Load(temp.Home)).Throws<IdentityException>().WithMessageContaining("peerctl init");
    }

    [Test]
    public async Task A_corrupt_key_is_reported_not_replaced()
    {
        using var temp = new TempHome();
        temp.Home.EnsureExists();
        File.WriteAllBytes(temp.Home.IdentityKeyFile, [1, 2, 3]);
        File.SetUnixFileMode(temp.Home.IdentityKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await Assert.That(() => IdentityStore.Load(temp.Home)).Throws<IdentityException>().WithMessageContaining("not a valid identity key");
        await Assert.That(File.ReadAllBytes(temp.Home.IdentityKeyFile)).IsEquivalentTo(new byte[] { 1, 2, 3 });
    }

    [Test]
    public async Task The_key_can_come_from_an_environment_variable()
    {
        using var temp = new TempHome();
        using var identity = IdentityStore.Create(temp.Home, force: false);
        string base64 = Convert.ToBase64String(File.ReadAllBytes(temp.Home.IdentityKeyFile));
        using var other = new TempHome();
        Environment.SetEnvironmentVariable(IdentityStore.KeyEnvironmentVariable, base64);
        try
        {
            using var loaded = IdentityStore.Load(other.Home);
            await Assert.That(loaded.PeerId).IsEqualTo(identity.PeerId);
        }
        finally
        {
            Environment.SetEnvironmentVariable(IdentityStore.KeyEnvironmentVariable, null);
        }
    }
}

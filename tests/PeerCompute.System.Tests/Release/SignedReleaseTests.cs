using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// A release signed by build/package.sh --signing-key (an Ed25519 key made with openssl, as the release operator
/// would): each archive has a detached .sig, and the packed install.sh knows the public key, so it installs only an
/// archive whose signature verifies, whatever the server's SHA256SUMS says.
/// </summary>
internal sealed class SignedReleaseTests
{
    private static readonly Lazy<Task<(string Release, string PublicKeyPem)>> _signed = new(PackSignedAsync);

    private static string ArchiveName => $"peercompute-{ReleaseScripts.HostRid}.tar.gz";

    [Test]
    public async Task The_signed_releases_installer_checks_the_signature_and_installs()
    {
        var (release, _) = await _signed.Value;
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl], script: Path.Combine(release, "install.sh"));

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(result.StandardOutput).Contains($"signature ok ({ArchiveName}.sig, Ed25519)");
        await Assert.That(server.Requested).IsEquivalentTo(new[] { "/SHA256SUMS", "/" + ArchiveName, $"/{ArchiveName}.sig" });
        var version = await TestProcess.RunAsync(Path.Combine(bin, "peerctl"), ["--version"],
            new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = ReleaseScripts.NewFolder("home") });
        await Assert.That(version.StandardOutput.Trim()).IsEqualTo(ReleaseScripts.Version);
    }

    [Test]
    public async Task Refuses_a_substituted_archive_whose_signature_does_not_verify_though_SHA256SUMS_matches()
    {
        var (signed, _) = await _signed.Value;
        string release = ReleaseScripts.CopyOf(signed, ArchiveName, ArchiveName + ".sig", "install.sh");
        await ReleaseScripts.SubstituteArchiveAsync(release);
        await using var server = new LoopbackFileServer(release);
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--bin-dir", bin, "--base-url", server.BaseUrl], script: Path.Combine(release, "install.sh"));

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardOutput).Contains("checksum ok");
        await Assert.That(result.StandardError).Contains($"signature check failed for {ArchiveName}");
        await Assert.That(result.StandardError).Contains("nothing was installed");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    [Test]
    public async Task A_given_public_key_requires_the_signature_of_a_local_archive()
    {
        var (signed, publicKeyPem) = await _signed.Value;
        string withSignature = ReleaseScripts.CopyOf(signed, ArchiveName, ArchiveName + ".sig", "SHA256SUMS");
        string withoutSignature = ReleaseScripts.CopyOf(signed, ArchiveName, "SHA256SUMS");
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");
        string refusedBin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        // build/'s install.sh knows no key: --public-key (a PEM file) pins it.
        var unsigned = await ReleaseScripts.InstallAsync(["--archive", Path.Combine(withoutSignature, ArchiveName), "--bin-dir", refusedBin, "--public-key", publicKeyPem]);
        var verified = await ReleaseScripts.InstallAsync(["--archive", Path.Combine(withSignature, ArchiveName), "--bin-dir", bin, "--public-key", publicKeyPem]);

        await Assert.That(unsigned.ExitCode).IsEqualTo(1);
        await Assert.That(unsigned.StandardError).Contains($"must come with its {ArchiveName}.sig");
        await Assert.That(Directory.Exists(refusedBin)).IsFalse();
        await Assert.That(verified.ExitCode).IsEqualTo(0).Because(verified.ToString());
        await Assert.That(verified.StandardOutput).Contains("signature ok");
        await Assert.That(File.Exists(Path.Combine(bin, "gateway"))).IsTrue();
    }

    [Test]
    public async Task Refuses_a_signature_made_by_another_key()
    {
        var (signed, _) = await _signed.Value;
        string release = ReleaseScripts.CopyOf(signed, ArchiveName, ArchiveName + ".sig", "SHA256SUMS");
        string otherKey = await NewKeyAsync();
        var otherPublic = await TestProcess.RunAsync("openssl", ["pkey", "-in", otherKey, "-pubout"]);
        // The base64 line of the key, as a release page would print it.
        string line = string.Concat(otherPublic.StandardOutput.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal)));
        string bin = Path.Combine(ReleaseScripts.NewFolder("prefix"), "bin");

        var result = await ReleaseScripts.InstallAsync(["--archive", Path.Combine(release, ArchiveName), "--bin-dir", bin],
            new Dictionary<string, string?> { ["PEERCOMPUTE_PUBLIC_KEY"] = line });

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains($"signature check failed for {ArchiveName}");
        await Assert.That(Directory.Exists(bin)).IsFalse();
    }

    private static async Task<(string, string)> PackSignedAsync()
    {
        string key = await NewKeyAsync();
        string release = await ReleaseScripts.PackAsync(ReleaseScripts.HostRid, "--signing-key", key);
        string publicKeyPem = Path.Combine(ReleaseScripts.NewFolder("pub"), "release.pub.pem");
        var pub = await TestProcess.RunAsync("openssl", ["pkey", "-in", key, "-pubout", "-out", publicKeyPem]);
        if (pub.ExitCode != 0)
            throw new InvalidOperationException($"openssl pkey -pubout failed: {pub}");
        return (release, publicKeyPem);
    }

    /// <summary>A new Ed25519 private key (PEM), as the release operator makes one.</summary>
    private static async Task<string> NewKeyAsync()
    {
        string key = Path.Combine(ReleaseScripts.NewFolder("key"), "release-signing.pem");
        var made = await TestProcess.RunAsync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key]);
        if (made.ExitCode != 0)
            throw new InvalidOperationException($"openssl genpkey failed: {made}");
        return key;
    }
}

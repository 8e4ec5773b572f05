using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Images per owner, against the local registry's private (htpasswd) endpoint: an image one owner pulled with their
/// credentials stays theirs, whatever name another owner uses for it, until the registry gives it to that owner too;
/// images anyone may pull, and the engine's own, serve every owner without a pull.
/// </summary>
[NotInParallel("registry")]
public sealed class ImageAccessTests
{
    private const string OwnerA = "12D3KooWOwnerImageA";
    private const string OwnerB = "12D3KooWOwnerImageB";
    private static readonly RegistryCredentials Right = new(LocalRegistry.User, LocalRegistry.Password);

    [Test]
    public async Task An_image_pulled_with_one_owners_credentials_is_refused_to_another_owner_without_them()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, digest) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        var runtime = harness.Runtime;
        string image = $"{registry.Private}/{repository}:v1";

        var mine = await runtime.DeployAsync(RuntimeHarness.Busybox("owner-a") with { Image = image, RegistryCredentials = Right }, OwnerA);
        await Assert.That(mine.State).IsEqualTo(DeploymentState.Running);

        // The image is on the engine now; another owner without credentials, with wrong ones, or naming it by digest, is refused.
        var none = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("owner-b") with { Image = image }, OwnerB));
        await Assert.That(none!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        await Assert.That(none.Message).Contains(registry.Private);
        var wrong = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("owner-b") with
        {
            Image = image,
            RegistryCredentials = new RegistryCredentials(LocalRegistry.User, "not-the-password"),
        }, OwnerB));
        await Assert.That(wrong!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        await Assert.That(wrong.Message).DoesNotContain("not-the-password");
        var byDigest = await Assert.ThrowsAsync<RuntimeException>(() =>
            runtime.DeployAsync(RuntimeHarness.Busybox("owner-b") with { Image = $"{registry.Private}/{repository}@{digest}" }, OwnerB));
        await Assert.That(byDigest!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        // Its digest under a repository it is not in: the engine may hand out a digest it holds without asking the registry.
        var elsewhere = await Assert.ThrowsAsync<RuntimeException>(() =>
            runtime.DeployAsync(RuntimeHarness.Busybox("owner-b") with { Image = $"{registry.Open}/peercompute-test/pulled-elsewhere@{digest}" }, OwnerB));
        await Assert.That(elsewhere!.Code).IsEqualTo(RuntimeErrorCode.ImageNotFound);
        await Assert.That((await runtime.ListAsync(OwnerB))).IsEmpty();
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(1);

        // The owner who pulled it uses it again without credentials; the other owner does with credentials the registry takes.
        var again = await runtime.DeployAsync(RuntimeHarness.Busybox("owner-a-again") with { Image = image }, OwnerA);
        await Assert.That(again.State).IsEqualTo(DeploymentState.Running);
        var theirs = await runtime.DeployAsync(RuntimeHarness.Busybox("owner-b") with { Image = image, RegistryCredentials = Right }, OwnerB);
        await Assert.That(theirs.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(await Http.GetWhenReadyAsync(theirs.HostPort!.Value)).Contains("peercompute test page");
    }

    [Test]
    public async Task Who_pulled_a_private_image_is_remembered_across_a_restart()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        string image = $"{registry.Private}/{repository}:v1";
        await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("owner-a") with { Image = image, RegistryCredentials = Right }, OwnerA);

        await harness.Runtime.DisposeAsync();
        var restarted = await harness.OpenRuntimeAsync();
        var refused = await Assert.ThrowsAsync<RuntimeException>(() => restarted.DeployAsync(RuntimeHarness.Busybox("owner-b") with { Image = image }, OwnerB));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        var again = await restarted.DeployAsync(RuntimeHarness.Busybox("owner-a-again") with { Image = image }, OwnerA);
        await Assert.That(again.State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task Images_pulled_without_credentials_and_the_engines_own_serve_every_owner_without_a_pull()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        var runtime = harness.Runtime;
        string image = $"{registry.Open}/{repository}:v1";

        await runtime.DeployAsync(RuntimeHarness.Busybox("public-a") with { Image = image }, OwnerA);
        var progress = new PullRecorder();
        var other = await runtime.DeployAsync(RuntimeHarness.Busybox("public-b") with { Image = image }, OwnerB, progress);
        await Assert.That(other.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(progress.Items).IsEmpty();

        // An image the operator put on the engine (the test image is built locally, no registry has it).
        var local = new PullRecorder();
        var built = await runtime.DeployAsync(RuntimeHarness.Busybox("local-b"), OwnerB, local);
        await Assert.That(built.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(local.Items).IsEmpty();
    }
}

using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>The pull path, against registries the tests start on loopback.</summary>
[NotInParallel("registry")]
public sealed class ImagePullTests
{
    private const string Owner = "12D3KooWOwnerPull";

    [Test]
    public async Task A_missing_image_is_pulled_with_progress_and_a_present_one_is_used_as_is()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        string image = $"{registry.Open}/{repository}:v1";

        var progress = new PullRecorder();
        var status = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("pulled") with { Image = image }, Owner, progress);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        await Assert.That(await Http.GetWhenReadyAsync(status.HostPort!.Value)).Contains("peercompute test page");

        await Assert.That(progress.Items.All(p => p.Image == image)).IsTrue();
        // The fresh layer was downloaded with byte counts, layer by layer.
        var downloading = progress.Items.Where(p => p.Status == "Downloading" && p.Layer is not null).ToList();
        await Assert.That(downloading).IsNotEmpty();
        await Assert.That(downloading.Max(p => p.CurrentBytes ?? 0)).IsGreaterThan(0L);
        await Assert.That(downloading.All(p => p.TotalBytes > 0)).IsTrue();
        await Assert.That(progress.Items.Any(p => p.Status == "Pull complete")).IsTrue();

        var again = new PullRecorder();
        await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("again") with { Image = image }, Owner, again);
        await Assert.That(again.Items).IsEmpty();
    }

    [Test]
    public async Task A_digest_pinned_image_is_pulled_by_digest_and_a_wrong_digest_is_refused()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, digest) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));

        var pinned = $"{registry.Open}/{repository}@{digest}";
        var status = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("pinned") with { Image = pinned }, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        var inspect = await TestEngine.InspectAsync(status.ContainerId!);
        string imageId = inspect.GetProperty("Image").GetString()!;
        var digests = (await Cli.DockerAsync("image", "inspect", "--format", "{{json .RepoDigests}}", imageId)).EnsureSuccess("image inspect").Stdout;
        await Assert.That(digests).Contains($"{registry.Open}/{repository}@{digest}");

        string wrong = "sha256:" + new string('0', 64);
        var error = await Assert.ThrowsAsync<RuntimeException>(() =>
            harness.Runtime.DeployAsync(RuntimeHarness.Busybox("wrong") with { Image = $"{registry.Open}/{repository}@{wrong}" }, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImageNotFound);
        await Assert.That(error.Message).Contains(wrong);
        await Assert.That(error.Message).Contains("not found");
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(1);
    }

    [Test]
    public async Task A_private_registry_needs_the_deployments_credentials()
    {
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        var spec = RuntimeHarness.Busybox("private") with { Image = $"{registry.Private}/{repository}:v1" };

        var anonymous = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(spec, Owner));
        await Assert.That(anonymous!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        await Assert.That(anonymous.Message).Contains(registry.Private);
        await Assert.That(anonymous.Message).Contains("refused access");

        var wrong = await Assert.ThrowsAsync<RuntimeException>(() =>
            harness.Runtime.DeployAsync(spec with { RegistryCredentials = new RegistryCredentials(LocalRegistry.User, "not-the-password") }, Owner));
        await Assert.That(wrong!.Code).IsEqualTo(RuntimeErrorCode.ImageAccessDenied);
        await Assert.That(wrong.Message).DoesNotContain("not-the-password");

        var status = await harness.Runtime.DeployAsync(spec with { RegistryCredentials = new RegistryCredentials(LocalRegistry.User, LocalRegistry.Password) }, Owner);
        await Assert.That(status.State).IsEqualTo(DeploymentState.Running);
        // Credentials are used for the pull and never written to the record.
        string record = await File.ReadAllTextAsync(Path.Combine(harness.StateFolder, "deployments", status.Id + ".json"));
        await Assert.That(record).DoesNotContain(LocalRegistry.Password);
    }

    [Test]
    public async Task An_image_the_registry_does_not_have_is_reported_as_not_found_with_the_registrys_words()
    {
        await using var registry = await PullRegistry.StartAsync();
        await using var harness = await RuntimeHarness.StartAsync(PullRegistry.Allowed(registry));
        string image = $"{registry.Open}/peercompute-test/never-pushed:v9";
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(RuntimeHarness.Busybox("absent") with { Image = image }, Owner));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImageNotFound);
        await Assert.That(error.Message).Contains(image);
        await Assert.That(error.Message).Contains("not found");
    }
}

using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>The provider's image size cap (<c>--max-image-size</c>): checked on the image the engine holds, after a pull.</summary>
[NotInParallel("registry")]
public sealed class ImageSizeTests
{
    private const string Owner = "12D3KooWOwnerImageSize";

    [Test]
    public async Task An_image_over_the_cap_is_refused_and_removed_when_this_deploy_pulled_it()
    {
        // The test image is about 1.9 MiB; the pushed one is that plus a 1 MiB marker.
        long cap = 2 * RuntimeOptions.MiB;
        long held = long.Parse((await Cli.DockerAsync("image", "inspect", "--format", "{{.Size}}", TestEngine.BusyboxImage)).EnsureSuccess("image inspect").Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await Assert.That(held).IsLessThanOrEqualTo(cap);
        await using var registry = await PullRegistry.StartAsync();
        var (repository, _) = await registry.PushFreshImageAsync();
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxImageBytes = cap, AllowedRegistries = [registry.Open] });
        string image = $"{registry.Open}/{repository}:v1";

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(RuntimeHarness.Busybox("big") with { Image = image }, Owner));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.ImageTooLarge);
        await Assert.That(refused.Message).Contains(image);
        await Assert.That(refused.Message).Contains("2MiB");
        // The pulled image does not stay on the provider's disk, and nothing was admitted.
        await Assert.That((await Cli.DockerAsync("image", "inspect", image)).ExitCode).IsNotEqualTo(0);
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(0);

        // An image under the cap runs.
        var small = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("small"), Owner);
        await Assert.That(small.State).IsEqualTo(DeploymentState.Running);
    }

    [Test]
    public async Task An_image_the_engine_already_held_is_refused_over_the_cap_but_kept()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxImageBytes = 1 * RuntimeOptions.MiB });

        var refused = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(RuntimeHarness.Busybox("held"), Owner));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.ImageTooLarge);
        await Assert.That((await Cli.DockerAsync("image", "inspect", TestEngine.BusyboxImage)).ExitCode).IsEqualTo(0);
    }
}

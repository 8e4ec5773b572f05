using Microsoft.Extensions.Logging;
using PeerCompute.Core.Resources;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime;

/// <summary>What a deploy takes from its image: the size cap, and the port when the deployer named none.</summary>
public sealed partial class ContainerRuntime
{
    /// <summary>Refuses an image over the provider's size cap; one this deploy pulled is removed again (unless something else uses it).</summary>
    private async Task EnsureImageFitsAsync(ImageReference image, ImageFacts? facts, bool removeWhenTooLarge)
    {
        if (facts is not { Size: var size } || size <= _options.MaxImageBytes)
            return;
        if (removeWhenTooLarge)
        {
            try
            {
                await _engine.RemoveImageAsync(image.LocalName, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RuntimeException ex)
            {
                _logger.LogWarning(ex, "Could not remove image {Image}, refused as too large", image);
            }
        }
        throw new RuntimeException(RuntimeErrorCode.ImageTooLarge,
            $"image {image} is {Quantities.FormatBytes(size)} unpacked, more than this provider's image size cap of {Quantities.FormatBytes(_options.MaxImageBytes)}");
    }

    /// <summary>The image's one declared TCP port; <see cref="DeploymentSpec.DefaultPort"/> when it declares none; several are the requester's choice.</summary>
    private static int PortOf(ImageReference image, ImageFacts? facts) => facts?.ExposedTcpPorts switch
    {
        null or [] => DeploymentSpec.DefaultPort,
        [int only] => only,
        var several => throw new RuntimeException(RuntimeErrorCode.InvalidSpec,
            $"image {image} exposes several ports ({string.Join(", ", several)}): choose one with --port"),
    };
}

using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace PeerCompute.Runtime.Docker;

/// <summary>
/// Finds out whether the engine caps a container's writable layer, by asking it to: a throwaway container, never
/// started, created with the cap from an empty image imported for the purpose, then both removed.
/// </summary>
/// <remarks>
/// <c>docker info</c> alone cannot tell: it names the driver and the backing filesystem, but overlay2 on xfs enforces
/// <c>size=</c> only when the filesystem is mounted with project quotas (<c>pquota</c>/<c>prjquota</c>), which it does not
/// report; btrfs needs quotas the kernel may lack; other drivers differ again. The engine itself checks all of that
/// when it creates a container's writable layer, and refuses the create when it cannot enforce the cap, so the probe
/// asks exactly the question a deploy will. <c>docker info</c> then only names the driver in messages, and says
/// whether user namespaces are remapped.
/// </remarks>
internal static class StorageProbe
{
    public const string Repository = "peercompute-probe/empty";

    /// <summary>An empty tar archive: two zero blocks.</summary>
    private static readonly byte[] EmptyTar = new byte[1024];

    public static async Task<EngineStorage> RunAsync(IDockerClient docker, DockerErrorTranslator errors, long writableBytes, CancellationToken cancellationToken)
    {
        var info = await errors.RunAsync("reading the engine's storage driver", () => docker.System.GetSystemInfoAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        string? backing = info.DriverStatus?.FirstOrDefault(pair => pair is [ "Backing Filesystem", _ ])?[1];
        bool userns = info.SecurityOptions?.Any(option => option.Contains("name=userns", StringComparison.Ordinal)) == true;
        string? problem = await TryCappedCreateAsync(docker, errors, writableBytes, cancellationToken).ConfigureAwait(false);
        return new EngineStorage(string.IsNullOrEmpty(info.Driver) ? "unknown" : info.Driver, string.IsNullOrEmpty(backing) ? null : backing, problem is null, problem, userns);
    }

    /// <summary>Null when the engine accepted the capped container; else its refusal.</summary>
    private static async Task<string?> TryCappedCreateAsync(IDockerClient docker, DockerErrorTranslator errors, long writableBytes, CancellationToken cancellationToken)
    {
        // A tag of its own: two providers probing one engine at once never remove each other's image.
        string tag = Guid.NewGuid().ToString("N");
        string image = $"{Repository}:{tag}";
        string? containerId = null;
        try
        {
            using (var archive = new MemoryStream(EmptyTar, writable: false))
            {
                await errors.RunAsync("importing the storage probe's empty image", () => docker.Images.CreateImageAsync(
                    new ImagesCreateParameters { FromSrc = "-", Repo = Repository, Tag = tag }, archive, new AuthConfig(), new Progress(), cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            var created = await errors.RunAsync("creating the storage probe's capped container", () => docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = image,
                Cmd = ["probe"],
                NetworkDisabled = true,
                HostConfig = new HostConfig
                {
                    NetworkMode = "none",
                    StorageOpt = new Dictionary<string, string> { [ContainerSpecBuilder.StorageSizeOption] = writableBytes.ToString(CultureInfo.InvariantCulture) },
                },
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
            containerId = created.ID;
            return null;
        }
        catch (RuntimeException ex) when (ex.Code is RuntimeErrorCode.DockerError or RuntimeErrorCode.NotFound)
        {
            // The engine refused (an unreachable engine stays DockerUnavailable, so the start waits for it).
            return ex.InnerException is DockerApiException api ? DockerErrorTranslator.EngineMessage(api.ResponseBody) : ex.Message;
        }
        finally
        {
            await CleanUpAsync(docker, containerId, image).ConfigureAwait(false);
        }
    }

    private static async Task CleanUpAsync(IDockerClient docker, string? containerId, string image)
    {
        try
        {
            if (containerId is not null)
                await docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false);
            await docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = false, NoPrune = false }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            // Left behind at worst: an empty image (no bytes) and a never-started container without our labels.
        }
    }

    private sealed class Progress : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value)
        {
        }
    }
}

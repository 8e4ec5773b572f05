using Docker.DotNet;
using Docker.DotNet.Models;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Docker;

/// <summary>
/// Makes an image available: the local one when present, else a pull with progress, then a check
/// that a pinned digest is really what the engine holds.
/// </summary>
internal sealed class ImagePuller
{
    private readonly IDockerClient _docker;
    private readonly DockerErrorTranslator _errors;

    public ImagePuller(IDockerClient docker, DockerErrorTranslator errors)
    {
        _docker = docker;
        _errors = errors;
    }

    /// <summary>Returns the image id.</summary>
    public async Task<string> EnsureAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var local = await TryInspectAsync(image, cancellationToken).ConfigureAwait(false);
        if (local is null)
        {
            await PullAsync(image, credentials, progress, cancellationToken).ConfigureAwait(false);
            local = await TryInspectAsync(image, cancellationToken).ConfigureAwait(false)
                ?? throw new RuntimeException(RuntimeErrorCode.ImageNotFound, $"image {image}: the pull finished but the engine does not hold the image");
        }
        VerifyDigest(image, local);
        return local.ID;
    }

    private async Task<ImageInspectResponse?> TryInspectAsync(ImageReference image, CancellationToken cancellationToken)
    {
        try
        {
            return await _errors.RunAsync($"looking up image {image}", () => _docker.Images.InspectImageAsync(image.LocalName, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
    }

    private async Task PullAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var parameters = new ImagesCreateParameters { FromImage = image.Repository, Tag = image.PullTag };
        var auth = credentials is null
            ? new AuthConfig()
            : new AuthConfig
            {
                Username = credentials.Username,
                Password = credentials.Password,
                ServerAddress = credentials.ServerAddress ?? image.Registry ?? ImageReference.DefaultRegistry,
            };
        var relay = new PullRelay(image.ToString(), progress);
        try
        {
            await _errors.RunAsync($"pulling image {image}",
                () => _docker.Images.CreateImageAsync(parameters, auth, relay, cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code is RuntimeErrorCode.NotFound or RuntimeErrorCode.DockerError)
        {
            string reason = ex.InnerException is DockerApiException api ? DockerErrorTranslator.EngineMessage(api.ResponseBody) : ex.Message;
            throw PullFailure(image, reason, ex);
        }
        if (relay.Error is { } error)
            throw PullFailure(image, error, null);
    }

    private static RuntimeException PullFailure(ImageReference image, string reason, Exception? inner)
    {
        // The engine words "no such image" several ways depending on the registry; all of them mean the name is wrong.
        bool missing = reason.Contains("not found", StringComparison.OrdinalIgnoreCase)
            || reason.Contains("manifest unknown", StringComparison.OrdinalIgnoreCase)
            || reason.Contains("does not exist", StringComparison.OrdinalIgnoreCase)
            || reason.Contains("repository name not known", StringComparison.OrdinalIgnoreCase);
        return new RuntimeException(
            missing ? RuntimeErrorCode.ImageNotFound : RuntimeErrorCode.ImagePullFailed,
            $"image {image} from {image.Registry ?? ImageReference.DefaultRegistry}: {reason}", inner);
    }

    internal static void VerifyDigest(ImageReference image, ImageInspectResponse local)
    {
        if (image.Digest is null)
            return;
        string wanted = Normalize(image.Repository) + "@" + image.Digest;
        foreach (string held in local.RepoDigests ?? [])
        {
            int at = held.IndexOf('@');
            if (at > 0 && Normalize(held[..at]) + held[at..] == wanted)
                return;
        }
        throw new RuntimeException(RuntimeErrorCode.DigestMismatch,
            $"image {image}: the engine's image {local.ID} carries digests [{string.Join(", ", local.RepoDigests ?? [])}], not {image.Digest}");
    }

    private static string Normalize(string repository)
    {
        const string hub = ImageReference.DefaultRegistry + "/";
        if (repository.StartsWith(hub, StringComparison.Ordinal))
            repository = repository[hub.Length..];
        if (repository.StartsWith("library/", StringComparison.Ordinal))
            repository = repository["library/".Length..];
        return repository;
    }

    /// <summary>Forwards engine messages synchronously, in order, and keeps the first error.</summary>
    private sealed class PullRelay(string image, IProgress<PullProgress>? target) : IProgress<JSONMessage>
    {
        public string? Error { get; private set; }

        public void Report(JSONMessage value)
        {
            if (value.Error is { Message: { Length: > 0 } message })
                Error ??= message;
            if (target is null || string.IsNullOrEmpty(value.Status))
                return;
            target.Report(new PullProgress(image, string.IsNullOrEmpty(value.ID) ? null : value.ID, value.Status, value.Progress?.Current, value.Progress?.Total));
        }
    }
}

using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Docker;

/// <summary>
/// Finds the image the engine holds, or pulls it with progress; either way checks that a pinned digest is really what
/// the engine holds. What to do with a present image, and whether a registry may be pulled from at all, is decided
/// above (<c>ImageAccess</c>).
/// </summary>
/// <remarks>
/// A failed pull is told to the requester as one of a few plain reasons (not found, access refused, registry not
/// reachable, failed); the engine's own words, which can carry socket errors and what answered on a port, go to the
/// provider's log only.
/// </remarks>
internal sealed class ImagePuller
{
    private readonly IDockerClient _docker;
    private readonly Uri _endpoint;
    private readonly DockerErrorTranslator _errors;
    private readonly ILogger _logger;

    private readonly Action<ImageInspectResponse>? _inspected;

    /// <param name="inspected">Told every image this puller inspected (the engine keeps what it needs of them).</param>
    public ImagePuller(IDockerClient docker, Uri endpoint, DockerErrorTranslator errors, ILogger? logger = null, Action<ImageInspectResponse>? inspected = null)
    {
        _inspected = inspected;
        _docker = docker;
        _endpoint = endpoint;
        _errors = errors;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The image id of the image the engine holds under the reference; null when it holds none.</summary>
    public async Task<string?> FindAsync(ImageReference image, CancellationToken cancellationToken)
    {
        var local = await TryInspectAsync(image, cancellationToken).ConfigureAwait(false);
        if (local is null)
            return null;
        VerifyDigest(image, local);
        return local.ID;
    }

    /// <summary>Pulls (with the credentials, when given) and returns the image id.</summary>
    public async Task<string> PullAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        await PullCoreAsync(image, credentials, progress, cancellationToken).ConfigureAwait(false);
        var local = await TryInspectAsync(image, cancellationToken).ConfigureAwait(false)
            ?? throw new RuntimeException(RuntimeErrorCode.ImageNotFound, $"image {image}: the pull finished but the engine does not hold the image");
        VerifyDigest(image, local);
        return local.ID;
    }

    /// <summary>
    /// Asks the registry, through the engine (its insecure-registry and mirror settings apply), whether the credentials
    /// (none: anonymously) may read the image's manifest now. A pull cannot tell: the engine serves a digest it holds
    /// from its own store without asking the registry.
    /// </summary>
    public async Task CheckAccessAsync(ImageReference image, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        // Docker.DotNet's distribution call takes no credentials; the engine reads them from this header, as for a pull.
        using var client = new DockerClientBuilder().WithEndpoint(_endpoint).WithHeader("X-Registry-Auth", EncodeAuth(AuthFor(image, credentials))).Build();
        try
        {
            await _errors.RunAsync($"asking the registry about image {image}", () => client.Distribution.InspectAsync(image.LocalName, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code is RuntimeErrorCode.NotFound or RuntimeErrorCode.DockerError)
        {
            string reason = ex.InnerException is DockerApiException api ? DockerErrorTranslator.EngineMessage(api.ResponseBody) : ex.Message;
            throw PullFailure(image, reason, ex);
        }
    }

    private static AuthConfig AuthFor(ImageReference image, RegistryCredentials? credentials) => credentials is null
        ? new AuthConfig()
        : new AuthConfig
        {
            Username = credentials.Username,
            Password = credentials.Password,
            ServerAddress = credentials.ServerAddress ?? image.Registry ?? ImageReference.DefaultRegistry,
        };

    /// <summary>The engine's X-Registry-Auth: URL-safe base64 (with padding) of the JSON auth config.</summary>
    private static string EncodeAuth(AuthConfig auth)
        => Convert.ToBase64String(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
                new RegistryAuthHeader(auth.Username, auth.Password, auth.ServerAddress), RegistryAuthJsonContext.Default.RegistryAuthHeader))
            .Replace('+', '-').Replace('/', '_');

    private async Task<ImageInspectResponse?> TryInspectAsync(ImageReference image, CancellationToken cancellationToken)
    {
        try
        {
            var inspect = await _errors.RunAsync($"looking up image {image}", () => _docker.Images.InspectImageAsync(image.LocalName, cancellationToken), cancellationToken).ConfigureAwait(false);
            _inspected?.Invoke(inspect);
            return inspect;
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
        {
            return null;
        }
    }

    private async Task PullCoreAsync(ImageReference image, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var parameters = new ImagesCreateParameters { FromImage = image.Repository, Tag = image.PullTag };
        var auth = AuthFor(image, credentials);
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

    private RuntimeException PullFailure(ImageReference image, string reason, Exception? inner)
    {
        string registry = image.Registry ?? ImageReference.DefaultRegistry;
        _logger.LogWarning("Pull of {Image} from {Registry} failed: {Reason}", image.ToString(), registry, reason);
        return ClassifyPullFailure(reason) switch
        {
            PullFailureKind.NotFound => new RuntimeException(RuntimeErrorCode.ImageNotFound,
                $"image {image} was not found in registry {registry} (no such repository, tag or digest)", inner),
            PullFailureKind.Unauthorized => new RuntimeException(RuntimeErrorCode.ImageAccessDenied,
                $"registry {registry} refused access to image {image}: no credentials, or wrong ones, for it", inner),
            PullFailureKind.Unreachable => new RuntimeException(RuntimeErrorCode.ImagePullFailed,
                $"image {image}: registry {registry} could not be reached", inner),
            _ => new RuntimeException(RuntimeErrorCode.ImagePullFailed,
                $"image {image}: the pull from registry {registry} failed (the provider's log has the engine's reason)", inner),
        };
    }

    internal enum PullFailureKind
    {
        NotFound,
        Unauthorized,
        Unreachable,
        Other,
    }

    /// <summary>The engine words each failure several ways depending on the registry and the Go version; these are the ones it uses.</summary>
    internal static PullFailureKind ClassifyPullFailure(string reason)
    {
        // Docker Hub says "repository does not exist or may require 'docker login'" for both: told as not found, as before.
        if (ContainsAny(reason, "not found", "manifest unknown", "does not exist", "repository name not known", "name unknown"))
            return PullFailureKind.NotFound;
        if (ContainsAny(reason, "unauthorized", "no basic auth credentials", "authentication required", "denied", "incorrect username or password"))
            return PullFailureKind.Unauthorized;
        if (ContainsAny(reason, "dial tcp", "connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host",
                "connection reset", "timeout", "tls:", "eof", "server misbehaving", "http response to https client"))
            return PullFailureKind.Unreachable;
        return PullFailureKind.Other;
    }

    private static bool ContainsAny(string text, params ReadOnlySpan<string> words)
    {
        foreach (string word in words)
        {
            if (text.Contains(word, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
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

/// <summary>The engine's auth config as it reads X-Registry-Auth (absent fields: anonymous).</summary>
internal sealed record RegistryAuthHeader(
    [property: System.Text.Json.Serialization.JsonPropertyName("username")] string? Username,
    [property: System.Text.Json.Serialization.JsonPropertyName("password")] string? Password,
    [property: System.Text.Json.Serialization.JsonPropertyName("serveraddress")] string? ServerAddress);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RegistryAuthHeader))]
internal sealed partial class RegistryAuthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

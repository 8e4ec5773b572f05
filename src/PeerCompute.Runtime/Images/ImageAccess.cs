using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Images;

/// <summary>
/// Gives a deploy the image it names, per owner: a present image is used as it is unless another owner pulled it with
/// registry credentials (then the registry must let the requester read it, asked with the requester's credentials or
/// none); an absent one is pulled with the requester's credentials. Either way the reference must name a registry the <see cref="RegistryGuard"/> lets the
/// engine reach.
/// </summary>
/// <remarks>
/// An image appears on the engine before the pull that brings it returns, so a present image is judged only once no
/// credentialed pull is in flight (each one records its owner before it counts as finished).
/// </remarks>
internal sealed class ImageAccess
{
    private readonly IContainerEngine _engine;
    private readonly RegistryGuard _guard;
    private readonly ImageGrantStore _grants;
    private readonly Lock _lock = new();
    private readonly HashSet<Task> _credentialedPulls = [];

    public ImageAccess(IContainerEngine engine, RegistryGuard guard, ImageGrantStore grants)
    {
        _engine = engine;
        _guard = guard;
        _grants = grants;
    }

    /// <summary>Returns the image id the owner may run.</summary>
    public async Task<EnsuredImage> EnsureAsync(ImageReference image, string owner, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        // First, before the engine is asked anything about the name: a reference naming a blocked registry is refused
        // whether or not the image is present (the engine's lookup of a name can reach out too).
        await _guard.EnsureAllowedAsync(image, cancellationToken).ConfigureAwait(false);
        string? present;
        while (true)
        {
            present = await _engine.FindImageAsync(image, cancellationToken).ConfigureAwait(false);
            if (present is null || !await SettleAsync(cancellationToken).ConfigureAwait(false))
                break;
        }
        if (present is not null)
        {
            await AdmitAsync(image, present, owner, credentials, cancellationToken).ConfigureAwait(false);
            return new(present, Pulled: false);
        }
        if (credentials is not null)
            return new(await PullWithCredentialsAsync(image, owner, credentials, progress, cancellationToken).ConfigureAwait(false), Pulled: true);
        string id = await _engine.PullImageAsync(image, null, progress, cancellationToken).ConfigureAwait(false);
        // The engine serves a digest it holds without asking the registry, so a "pull" can hand over another owner's image.
        await SettleAsync(cancellationToken).ConfigureAwait(false);
        await AdmitAsync(image, id, owner, null, cancellationToken).ConfigureAwait(false);
        return new(id, Pulled: true);
    }

    /// <summary>Waits until the credentialed pulls in flight now have finished and recorded their owners; false when there were none.</summary>
    private async Task<bool> SettleAsync(CancellationToken cancellationToken)
    {
        Task[] pending;
        lock (_lock)
            pending = [.. _credentialedPulls];
        if (pending.Length == 0)
            return false;
        // Failures are their deploys' business; here only "finished" matters.
        await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Lets the owner use an image the engine holds: at once when it is unrestricted or theirs, else when the registry
    /// lets them read it now (asked with their credentials, or none: then it is public).
    /// </summary>
    private async Task AdmitAsync(ImageReference image, string id, string owner, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        if (_grants.MayUse(id, owner))
            return;
        await _engine.CheckImageAccessAsync(image, credentials, cancellationToken).ConfigureAwait(false);
        if (credentials is null)
            await _grants.MakePublicAsync(id).ConfigureAwait(false);
        else
            await _grants.GrantAsync(id, owner).ConfigureAwait(false);
    }

    private async Task<string> PullWithCredentialsAsync(ImageReference image, string owner, RegistryCredentials credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
            _credentialedPulls.Add(finished.Task);
        try
        {
            // What the engine held before: an image that was already there unrestricted (public, or the operator's)
            // stays usable by all, whatever name this pull gave it.
            var before = await _engine.ListImageIdsAsync(cancellationToken).ConfigureAwait(false);
            string id = await _engine.PullImageAsync(image, credentials, progress, cancellationToken).ConfigureAwait(false);
            if (!_grants.MayUse(id, owner))
                await AdmitAsync(image, id, owner, credentials, cancellationToken).ConfigureAwait(false);
            else if (!before.Contains(id))
                await _grants.GrantAsync(id, owner).ConfigureAwait(false);
            return id;
        }
        finally
        {
            lock (_lock)
                _credentialedPulls.Remove(finished.Task);
            finished.SetResult();
        }
    }
}

/// <summary>The image a deploy may use: its ID, and whether this deploy pulled it (else the engine held it already).</summary>
internal readonly record struct EnsuredImage(string Id, bool Pulled);

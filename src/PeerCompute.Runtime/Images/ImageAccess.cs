using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Images;

/// <summary>
/// Gives a deploy the image it names, per owner: a present image is used as it is unless another owner pulled it with
/// registry credentials (then the requester's own pull, with the requester's credentials or none, must succeed first);
/// an absent one is pulled, only from a registry the <see cref="RegistryGuard"/> lets the engine reach.
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
    public async Task<string> EnsureAsync(ImageReference image, string owner, RegistryCredentials? credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        string? present;
        while (true)
        {
            present = await _engine.FindImageAsync(image, cancellationToken).ConfigureAwait(false);
            Task[] pending;
            lock (_lock)
                pending = [.. _credentialedPulls];
            if (present is null || pending.Length == 0)
                break;
            // Failures are their deploys' business; here only "finished and recorded" matters.
            await Task.WhenAll(pending).ContinueWith(static _ => { }, cancellationToken, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }
        if (present is not null && _grants.MayUse(present, owner))
            return present;

        // Absent, or another owner's private image: the registry decides, with this owner's credentials.
        await _guard.EnsureAllowedAsync(image, cancellationToken).ConfigureAwait(false);
        if (credentials is not null)
            return await PullWithCredentialsAsync(image, owner, credentials, progress, cancellationToken).ConfigureAwait(false);
        string id = await _engine.PullImageAsync(image, null, progress, cancellationToken).ConfigureAwait(false);
        // An anonymous pull that worked: the registry gives the image to anyone.
        await _grants.MakePublicAsync(id).ConfigureAwait(false);
        return id;
    }

    private async Task<string> PullWithCredentialsAsync(ImageReference image, string owner, RegistryCredentials credentials, IProgress<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
            _credentialedPulls.Add(finished.Task);
        try
        {
            string id = await _engine.PullImageAsync(image, credentials, progress, cancellationToken).ConfigureAwait(false);
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

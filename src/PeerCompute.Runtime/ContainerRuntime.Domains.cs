using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime;

// Custom domains belong to the deployment, not to its container: changing them changes what the gateways are told,
// never the container (so no new revision, and the container's spec label stays what the reconciler expects).
public sealed partial class ContainerRuntime
{
    public async Task<DeploymentStatus> SetDomainsAsync(string id, string owner, IReadOnlyList<string> domains, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domains);
        EnsureStarted();
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            var removed = (record.Spec.Domains ?? []).Except(domains, StringComparer.Ordinal).ToList();
            var spec = record.Spec with { Domains = domains.Count == 0 ? null : [.. domains] };
            DeploymentSpecValidator.Validate(spec, _options);
            record.Spec = spec;
            record.UpdatedAt = _time.GetUtcNow();
            await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
            var status = await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
            // Running: the route changes and the gateways hear of it (a domain taken off is given up there). Not running:
            // nothing is announced for it, and a domain taken off is given up with the next announcement.
            if (Routes.TryGetUpstream(spec.Name, out var upstream))
                Routes.Set(spec.Name, upstream, DeploymentAccess.For(record), spec.Domains);
            else
                Routes.Release(spec.Name, removed, announce: true);
            return status;
        }
        finally
        {
            tracked.Gate.Release();
        }
    }
}

using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Network;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;

namespace PeerCompute.Runtime;

// Stopping and removing deployments, undoing a deploy that failed half-way, and the app networks they leave behind.
public sealed partial class ContainerRuntime
{
    public async Task<DeploymentStatus> StopAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (record.ContainerId is { } containerId && record.Phase != RecordPhase.Vanished)
            {
                try
                {
                    await _engine.StopContainerAsync(containerId, _options.StopTimeout, $"stopping {record.Spec.Name}", cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                    record.Reason = "the container was removed outside the runtime";
                }
            }
            if (record.Phase != RecordPhase.Stopped)
            {
                record.Phase = RecordPhase.Stopped;
                record.UpdatedAt = _time.GetUtcNow();
                await _store.SaveAsync(record, CancellationToken.None).ConfigureAwait(false);
                _admission.Release(record.Id);
            }
            Routes.Release(record.Spec.Name, record.Spec.Domains);
            Routes.Set(record.Spec.Name, null, null, null);
            return await StatusCoreAsync(record, includeUsage: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    public async Task RemoveAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var tracked = Find(id, owner);
        await tracked.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = tracked.Record;
            if (record.ContainerId is { } containerId)
            {
                try
                {
                    if (record.Phase != RecordPhase.Stopped)
                        await _engine.StopContainerAsync(containerId, _options.StopTimeout, $"stopping {record.Spec.Name}", cancellationToken).ConfigureAwait(false);
                    await _engine.RemoveContainerAsync(containerId, removeVolumes: true, $"removing {record.Spec.Name}", cancellationToken).ConfigureAwait(false);
                }
                catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.NotFound)
                {
                    // Already gone: removing is what was wanted.
                }
            }
            Forget(record);
            try
            {
                await ReleaseAppNetworkAsync(record, cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex)
            {
                // The deployment is gone either way; a network left behind is reused by the app's next deploy.
                _logger.LogWarning(ex, "Could not remove the network of app {App} after removing {Id}", record.Spec.App, record.Id);
            }
        }
        finally
        {
            tracked.Gate.Release();
        }
    }

    private void Forget(DeploymentRecord record)
    {
        _store.Delete(record.Id);
        _previousLogs.Delete(record.Id);
        _admission.Release(record.Id);
        _deployments.TryRemove(record.Id, out _);
        Routes.Release(record.Spec.Name, record.Spec.Domains);
        Routes.Set(record.Spec.Name, null, null, null);
    }

    private async Task UndoDeployAsync(DeploymentRecord record, string? containerId)
    {
        if (containerId is not null)
        {
            try
            {
                await _engine.RemoveContainerAsync(containerId, removeVolumes: false, $"removing the container of failed deploy {record.Id}", CancellationToken.None).ConfigureAwait(false);
            }
            catch (RuntimeException ex)
            {
                // The record goes too; the next reconcile finds the container as an orphan and removes it after the grace period.
                _logger.LogWarning(ex, "Could not remove container {Container} of failed deploy {Id}", containerId, record.Id);
            }
        }
        Forget(record);
        try
        {
            await ReleaseAppNetworkAsync(record, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeException ex)
        {
            _logger.LogWarning(ex, "Could not remove the network of app {App} after failed deploy {Id}", record.Spec.App, record.Id);
        }
    }

    /// <summary>The app's own network and its egress rules, before its first container is created.</summary>
    private async Task EnsureAppNetworkAsync(string owner, string app, CancellationToken cancellationToken)
    {
        string network = AppNetwork.NameFor(_options.Instance, owner, app);
        await AppNetwork.EnsureAsync(_engine, network, new Dictionary<string, string>
        {
            [ContainerNaming.Managed] = "true",
            [ContainerNaming.Instance] = _options.Instance,
            [ContainerNaming.Owner] = owner,
            [ContainerNaming.App] = app,
        }, cancellationToken).ConfigureAwait(false);
        await _egress.EnsureAppAllowedAsync(network, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The app's network and rules go with its last deployment.</summary>
    private async Task ReleaseAppNetworkAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        if (record.Spec.App is not { } app)
            return;
        if (_deployments.Values.Any(t => t.Record.Owner == record.Owner && t.Record.Spec.App == app))
            return;
        string network = AppNetwork.NameFor(_options.Instance, record.Owner, app);
        await _engine.RemoveNetworkAsync(network, cancellationToken).ConfigureAwait(false);
        await _egress.RemoveAppAsync(network, cancellationToken).ConfigureAwait(false);
    }
}

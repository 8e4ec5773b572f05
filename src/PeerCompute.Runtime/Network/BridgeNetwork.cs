using PeerCompute.Runtime.Engine;

namespace PeerCompute.Runtime.Network;

/// <summary>The project's own bridge: created when missing, refused when a network of that name is not what it must be.</summary>
internal static class BridgeNetwork
{
    public static async Task EnsureAsync(IContainerEngine engine, string name, CancellationToken cancellationToken)
    {
        var existing = await engine.FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                await engine.CreateNetworkAsync(new NetworkDefinition(name, new Dictionary<string, string> { [ContainerNaming.Managed] = "true" }), cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.DockerError)
            {
                // Another runtime on this engine may have created it at the same moment (the bridge name makes the second create fail).
                existing = await engine.FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
                if (existing is null)
                    throw;
            }
            existing ??= await engine.FindNetworkAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new RuntimeException(RuntimeErrorCode.DockerError, $"network {name} was created but the engine does not list it");
        }
        if (!existing.IsBridge || !existing.InterContainerTrafficOff)
        {
            throw new RuntimeException(RuntimeErrorCode.DockerError,
                $"network {name} exists but is not a bridge with inter-container communication off; remove it (docker network rm {name}) and start again");
        }
    }
}

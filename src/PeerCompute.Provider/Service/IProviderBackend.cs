using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Provider.Service;

/// <summary>What the provider does for an authenticated, trusted, signed request. Owner = the requesting peer.</summary>
public interface IProviderBackend
{
    Task<DeployResponse> DeployAsync(DeployRequest request, PeerId owner, IProgress<DeployProgress> progress, CancellationToken cancellationToken);

    Task<StopResponse> StopAsync(StopRequest request, PeerId owner, CancellationToken cancellationToken);

    Task<StatusResponse> StatusAsync(StatusRequest request, PeerId owner, CancellationToken cancellationToken);

    IAsyncEnumerable<LogEntry> LogsAsync(LogsRequest request, PeerId owner, CancellationToken cancellationToken);

    /// <summary>Lists the owner's volumes, or removes one of them.</summary>
    Task<VolumeResponse> VolumesAsync(VolumeRequest request, PeerId owner, CancellationToken cancellationToken)
        => throw new ProviderException(ErrorCodes.VolumesUnavailable, "This provider offers no volumes.");

    /// <summary>Adds or removes a custom domain of one of the owner's deployments, or lists them; answers with that deployment's status.</summary>
    Task<StatusResponse> DomainsAsync(DomainRequest request, PeerId owner, CancellationToken cancellationToken)
        => throw new ProviderException(ErrorCodes.InvalidRequest, "This provider serves no custom domains.");
}

/// <summary>A refusal the backend sends back as an error frame.</summary>
public sealed class ProviderException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

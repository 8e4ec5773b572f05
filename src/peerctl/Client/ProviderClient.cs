using System.Runtime.CompilerServices;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Ctl.Client;

/// <summary>The provider said no (or failed); <see cref="Code"/> is one of <see cref="ErrorCodes"/>.</summary>
internal sealed class ProviderRefusedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>
/// Client side of <c>/peercompute/1.0.0</c>: one stream per request; the request and its signature go out
/// in one write, then the answer frames are read until the provider closes the stream.
/// </summary>
internal sealed class ProviderClient(PeerIdentity identity, Func<CancellationToken, Task<Stream>> openStream)
{
    public async Task<DeployResponse> DeployAsync(DeployRequest request, IProgress<DeployProgress>? progress, CancellationToken cancellationToken)
    {
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.DeployRequest, request, ProtocolJsonContext.Default.DeployRequest, cancellationToken).ConfigureAwait(false);
        var reader = new FrameReader(stream);
        while (true)
        {
            using var frame = await ReadAsync(reader, cancellationToken).ConfigureAwait(false);
            switch (frame.Type)
            {
                case FrameType.DeployProgress:
                    progress?.Report(FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.DeployProgress));
                    break;
                case FrameType.DeployResponse:
                    return FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.DeployResponse);
                default:
                    throw Unexpected(frame);
            }
        }
    }

    public async Task<StopResponse> StopAsync(string deployment, CancellationToken cancellationToken)
    {
        var request = new StopRequest(deployment, RequestSigning.Now(), RequestSigning.NewNonce());
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.StopRequest, request, ProtocolJsonContext.Default.StopRequest, cancellationToken).ConfigureAwait(false);
        using var frame = await ReadAsync(new FrameReader(stream), cancellationToken).ConfigureAwait(false);
        return frame.Type == FrameType.StopResponse ? FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.StopResponse) : throw Unexpected(frame);
    }

    public async Task<StatusResponse> StatusAsync(string? deployment, CancellationToken cancellationToken, bool history = false)
    {
        var request = new StatusRequest(RequestSigning.Now(), RequestSigning.NewNonce(), deployment, history);
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.StatusRequest, request, ProtocolJsonContext.Default.StatusRequest, cancellationToken).ConfigureAwait(false);
        using var frame = await ReadAsync(new FrameReader(stream), cancellationToken).ConfigureAwait(false);
        return frame.Type == FrameType.StatusResponse ? FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.StatusResponse) : throw Unexpected(frame);
    }

    public async Task<VolumeResponse> VolumesAsync(string action, string? name, CancellationToken cancellationToken)
    {
        var request = new VolumeRequest(action, RequestSigning.Now(), RequestSigning.NewNonce(), name);
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.VolumeRequest, request, ProtocolJsonContext.Default.VolumeRequest, cancellationToken).ConfigureAwait(false);
        using var frame = await ReadAsync(new FrameReader(stream), cancellationToken).ConfigureAwait(false);
        return frame.Type == FrameType.VolumeResponse ? FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.VolumeResponse) : throw Unexpected(frame);
    }

    public async Task<StatusResponse> DomainsAsync(string action, string deployment, string? domain, CancellationToken cancellationToken)
    {
        var request = new DomainRequest(action, RequestSigning.Now(), RequestSigning.NewNonce(), deployment, domain);
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.DomainRequest, request, ProtocolJsonContext.Default.DomainRequest, cancellationToken).ConfigureAwait(false);
        using var frame = await ReadAsync(new FrameReader(stream), cancellationToken).ConfigureAwait(false);
        return frame.Type == FrameType.StatusResponse ? FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.StatusResponse) : throw Unexpected(frame);
    }

    public async IAsyncEnumerable<LogEntry> LogsAsync(string deployment, int? tail, bool follow, [EnumeratorCancellation] CancellationToken cancellationToken, bool previous = false)
    {
        var request = new LogsRequest(deployment, RequestSigning.Now(), RequestSigning.NewNonce(), tail, follow, Previous: previous);
        await using var stream = await openStream(cancellationToken).ConfigureAwait(false);
        await new FrameWriter(stream).WriteSignedAsync(identity, FrameType.LogsRequest, request, ProtocolJsonContext.Default.LogsRequest, cancellationToken).ConfigureAwait(false);
        var reader = new FrameReader(stream);
        while (true)
        {
            using var next = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (next is not { } frame)
                yield break; // the provider closed the stream: the logs (or the container) ended
            if (frame.Type == FrameType.Error)
                throw ToRefusal(frame);
            if (frame.Type != FrameType.LogEntry)
                throw Unexpected(frame);
            yield return FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.LogEntry);
        }
    }

    private static async Task<ReceivedFrame> ReadAsync(FrameReader reader, CancellationToken cancellationToken)
    {
        var frame = await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new ProviderRefusedException(ErrorCodes.Internal, "The provider closed the stream without answering.");
        if (frame.Type == FrameType.Error)
        {
            using (frame)
                throw ToRefusal(frame);
        }
        return frame;
    }

    private static ProviderRefusedException ToRefusal(ReceivedFrame frame)
    {
        var error = FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.ErrorResponse);
        return new ProviderRefusedException(error.Code, error.Message);
    }

    private static ProviderRefusedException Unexpected(ReceivedFrame frame) =>
        new(ErrorCodes.UnexpectedType, $"The provider answered with an unexpected {frame.Type} frame.");
}

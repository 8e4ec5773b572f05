using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using ZLogger;

namespace PeerCompute.Provider.Service;

/// <summary>
/// Serves one <c>/peercompute/1.0.0</c> stream: a request frame, its signature frame, then the answer
/// (progress and a response, a log stream, or an error frame). Never throws for bad input.
/// </summary>
public sealed class ProviderProtocolHandler(RequestGuard guard, IProviderBackend backend, ILogger logger, int maxFrameLength = FrameCodec.DefaultMaxPayloadLength,
    StatusLimits? statusLimits = null, RecentRefusals? refusals = null)
{
    private readonly StatusLimits _statusLimits = statusLimits ?? new StatusLimits();

    /// <summary>How long a client may take to send its request and signature once the stream is open.</summary>
    public static readonly TimeSpan RequestReadTimeout = TimeSpan.FromSeconds(15);

    public async Task HandleAsync(Stream stream, PeerId remote, CancellationToken cancellationToken)
    {
        var reader = new FrameReader(stream, maxFrameLength);
        var writer = new FrameWriter(stream, maxFrameLength);
        using var readDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        readDeadline.CancelAfter(RequestReadTimeout);
        try
        {
            using var request = await reader.ReadAsync(readDeadline.Token).ConfigureAwait(false)
                ?? throw new FrameException(ErrorCodes.MalformedFrame, "The stream ended before a request.");
            if (!FrameTypes.IsRequest(request.Type))
                throw new FrameException(ErrorCodes.UnexpectedType, $"Expected a request, got {request.Type}.");
            RequestSignature? signature = null;
            using (var next = await reader.ReadAsync(readDeadline.Token).ConfigureAwait(false))
            {
                if (next is { Type: FrameType.RequestSignature } sig)
                    signature = FrameCodec.Deserialize(sig.Payload, ProtocolJsonContext.Default.RequestSignature);
                else if (next is { } other)
                    throw new FrameException(ErrorCodes.UnexpectedType, $"Expected the request's signature, got {other.Type}.");
            }
            readDeadline.CancelAfter(Timeout.InfiniteTimeSpan);

            switch (request.Type)
            {
                case FrameType.DeployRequest:
                {
                    var deploy = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.DeployRequest);
                    if (!Admit(remote, request, deploy, signature, "deploy", out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    logger.ZLogInformation($"deploy {deploy.Image} as '{deploy.Name}' for {remote.ToString()} ({PeerCompute.Core.Resources.Quantities.FormatMillicores(deploy.CpuMillicores)} cpu, {PeerCompute.Core.Resources.Quantities.FormatBytes(deploy.MemoryBytes)} memory)");
                    var progress = new ProgressWriter(writer, cancellationToken);
                    DeployResponse response;
                    try
                    {
                        response = await backend.DeployAsync(deploy, remote, progress, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        await progress.DrainAsync().ConfigureAwait(false);
                    }
                    logger.ZLogInformation($"deployed {response.Name} ({response.Id}) for {remote.ToString()} at {response.LocalUrl}");
                    await writer.WriteAsync(FrameType.DeployResponse, response, ProtocolJsonContext.Default.DeployResponse, cancellationToken).ConfigureAwait(false);
                    break;
                }
                case FrameType.StopRequest:
                {
                    var stop = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.StopRequest);
                    if (!Admit(remote, request, stop, signature, "stop", out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    var response = await backend.StopAsync(stop, remote, cancellationToken).ConfigureAwait(false);
                    logger.ZLogInformation($"stopped {response.Name} ({response.Id}) for {remote.ToString()}");
                    await writer.WriteAsync(FrameType.StopResponse, response, ProtocolJsonContext.Default.StopResponse, cancellationToken).ConfigureAwait(false);
                    break;
                }
                case FrameType.StatusRequest:
                {
                    var status = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.StatusRequest);
                    if (!Admit(remote, request, status, signature, "status", out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    // Log excerpts are the container's words: cut to the budget so status always fits a frame.
                    var response = StatusBudget.Fit(await backend.StatusAsync(status, remote, cancellationToken).ConfigureAwait(false), _statusLimits);
                    await writer.WriteAsync(FrameType.StatusResponse, response, ProtocolJsonContext.Default.StatusResponse, cancellationToken).ConfigureAwait(false);
                    break;
                }
                case FrameType.LogsRequest:
                {
                    var logs = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.LogsRequest);
                    if (!Admit(remote, request, logs, signature, "logs", out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    await SendLogsAsync(stream, writer, logs, remote, cancellationToken).ConfigureAwait(false);
                    break;
                }
                case FrameType.VolumeRequest:
                {
                    var volumes = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.VolumeRequest);
                    if (!Admit(remote, request, volumes, signature, "volume " + volumes.Action, out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    var response = await backend.VolumesAsync(volumes, remote, cancellationToken).ConfigureAwait(false);
                    if (volumes.Action == VolumeRequest.Remove)
                        logger.ZLogInformation($"removed volume {volumes.Name} of {remote.ToString()}");
                    await writer.WriteAsync(FrameType.VolumeResponse, response, ProtocolJsonContext.Default.VolumeResponse, cancellationToken).ConfigureAwait(false);
                    break;
                }
                case FrameType.DomainRequest:
                {
                    var domains = FrameCodec.Deserialize(request.Payload, ProtocolJsonContext.Default.DomainRequest);
                    if (!Admit(remote, request, domains, signature, "domain " + domains.Action, out var refusal))
                    {
                        await writer.WriteAsync(FrameType.Error, refusal, ProtocolJsonContext.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    var response = StatusBudget.Fit(await backend.DomainsAsync(domains, remote, cancellationToken).ConfigureAwait(false), _statusLimits);
                    if (domains.Action != DomainRequest.List)
                        logger.ZLogInformation($"{(domains.Action == DomainRequest.Add ? "added" : "removed")} custom domain {domains.Domain} of {domains.Deployment} for {remote.ToString()}");
                    await writer.WriteAsync(FrameType.StatusResponse, response, ProtocolJsonContext.Default.StatusResponse, cancellationToken).ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (FrameException ex)
        {
            logger.ZLogWarning($"refused a request from {remote.ToString()}: {ex.Message}");
            refusals?.Add(remote.ToString(), ex.Code, ex.Message);
            await TryWriteErrorAsync(writer, ex.Code, ex.Message, cancellationToken).ConfigureAwait(false);
        }
        catch (ProviderException ex)
        {
            logger.ZLogWarning($"request from {remote.ToString()} failed ({ex.Code}): {ex.Message}");
            refusals?.Add(remote.ToString(), ex.Code, ex.Message);
            await TryWriteErrorAsync(writer, ex.Code, ex.Message, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (readDeadline.IsCancellationRequested)
        {
            logger.ZLogWarning($"refused a request from {remote.ToString()}: not sent within {RequestReadTimeout.TotalSeconds} s");
            refusals?.Add(remote.ToString(), ErrorCodes.MalformedFrame, $"no complete, signed request within {RequestReadTimeout.TotalSeconds} s");
            await TryWriteErrorAsync(writer, ErrorCodes.MalformedFrame, $"No complete, signed request within {RequestReadTimeout.TotalSeconds} s.", cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            logger.ZLogDebug($"stream from {remote.ToString()} ended: {ex.Message}");
        }
    }

    private bool Admit(PeerId remote, ReceivedFrame request, ISignedRequest parsed, RequestSignature? signature, string what, out ErrorResponse refusal)
    {
        var error = guard.Check(remote, request.Raw, parsed, signature);
        if (error is null)
        {
            refusal = null!;
            return true;
        }
        logger.ZLogWarning($"refused {what} from {remote.ToString()}: {error.Code}: {error.Message}");
        refusals?.Add(remote.ToString(), error.Code, $"{what}: {error.Message}");
        refusal = error;
        return false;
    }

    /// <summary>
    /// Streams log entries. A followed stream of a quiet container would otherwise wait on the engine until the next
    /// line, long after its client went away (Ctrl-C, a dropped connection), and hold a request in flight and an engine
    /// connection open: the client sends nothing after its request, so any end of its side (end of stream, reset, the
    /// connection lost) ends the follow.
    /// </summary>
    private async Task SendLogsAsync(Stream stream, FrameWriter writer, LogsRequest logs, PeerId remote, CancellationToken cancellationToken)
    {
        using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = logs.Follow ? CancelWhenClientLeavesAsync(stream, clientGone) : Task.CompletedTask;
        try
        {
            await foreach (var entry in backend.LogsAsync(logs, remote, clientGone.Token).ConfigureAwait(false))
                await writer.WriteAsync(FrameType.LogEntry, entry, ProtocolJsonContext.Default.LogEntry, clientGone.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            logger.ZLogDebug($"logs of {logs.Deployment} for {remote.ToString()}: the client left");
        }
        finally
        {
            await clientGone.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
        }
    }

    private static async Task CancelWhenClientLeavesAsync(Stream stream, CancellationTokenSource cancel)
    {
        try
        {
            await stream.ReadAsync(new byte[1], cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }
        await cancel.CancelAsync().ConfigureAwait(false);
    }

    private static async Task TryWriteErrorAsync(FrameWriter writer, string code, string message, CancellationToken cancellationToken)
    {
        try
        {
            await writer.WriteErrorAsync(code, message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away; nothing to tell it.
        }
    }

    /// <summary>Forwards pull progress as frames, in order, without blocking the runtime on a slow client.</summary>
    private sealed class ProgressWriter : IProgress<DeployProgress>
    {
        private readonly Channel<DeployProgress> _channel = Channel.CreateBounded<DeployProgress>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        private readonly Task _pump;

        public ProgressWriter(FrameWriter writer, CancellationToken cancellationToken)
        {
            _pump = Task.Run(async () =>
            {
                await foreach (var item in _channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                    await writer.WriteAsync(FrameType.DeployProgress, item, ProtocolJsonContext.Default.DeployProgress, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }

        public void Report(DeployProgress value) => _channel.Writer.TryWrite(value);

        public async Task DrainAsync()
        {
            _channel.Writer.TryComplete();
            try
            {
                await _pump.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }
}

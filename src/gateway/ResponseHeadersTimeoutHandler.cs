using System.Net.Http;

namespace PeerCompute.Gateway;

/// <summary>
/// Bounds the wait for a container's status line and headers (SendAsync returns once they are in; the body then
/// streams under YARP's activity timeout). Past it the request fails as "container did not answer in time", which the
/// gateway answers with 504. A bodiless request whose kept-alive connection died before answering is sent once more.
/// </summary>
internal sealed class ResponseHeadersTimeoutHandler(TimeSpan timeout) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        headers.CancelAfter(timeout);
        try
        {
            try
            {
                return await base.SendAsync(request, headers.Token).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (request.Content is null && IsKeptStreamLost(e))
            {
                // Safe to send again: no body, and the kept connection died before any answer. A fresh one is used.
                return await base.SendAsync(request, headers.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (headers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException($"the container did not begin its answer within {timeout.TotalSeconds:0} s",
                new PeerCompute.Tunnel.TunnelException(PeerCompute.Tunnel.TunnelErrorKind.UpstreamTimeout, $"the container did not begin its answer within {timeout.TotalSeconds:0} s", e));
        }
    }

    private static bool IsKeptStreamLost(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is PeerCompute.Tunnel.Gateway.KeptStreamLostException)
                return true;
        return false;
    }
}

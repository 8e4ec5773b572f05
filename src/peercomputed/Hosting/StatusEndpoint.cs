using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using ZLogger;

namespace PeerCompute.Daemon.Hosting;

/// <summary>
/// Serves the status page on 127.0.0.1 only (the BCL's <see cref="HttpListener"/>: a page a minute needs no web
/// framework in the daemon). One request at a time; anything but <c>GET /</c> is 404.
/// </summary>
internal sealed class StatusEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<CancellationToken, Task<ProviderStatusSnapshot>> _snapshot;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private StatusEndpoint(Func<CancellationToken, Task<ProviderStatusSnapshot>> snapshot, ILogger log)
    {
        _snapshot = snapshot;
        _log = log;
    }

    public static StatusEndpoint Start(int port, Func<CancellationToken, Task<ProviderStatusSnapshot>> snapshot, ILogger log)
    {
        var endpoint = new StatusEndpoint(snapshot, log);
        endpoint._listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        endpoint._listener.Start();
        endpoint._loop = endpoint.ServeAsync();
        return endpoint;
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                await AnswerAsync(context).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                _log.ZLogDebug($"status page: {e.Message}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _log.ZLogWarning($"status page failed: {e.Message}");
                TryAnswer(context, 500, "text/plain; charset=utf-8", "the status could not be read: " + e.Message + "\n");
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath != "/")
        {
            TryAnswer(context, 404, "text/plain; charset=utf-8", "not found: the status page is at /\n");
            return;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        var snapshot = await _snapshot(deadline.Token).ConfigureAwait(false);
        TryAnswer(context, 200, "text/html; charset=utf-8", ProviderStatusPage.Render(snapshot));
    }

    private static void TryAnswer(HttpListenerContext context, int status, string contentType, string body)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = contentType;
        response.Headers["Cache-Control"] = "no-store";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Close();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

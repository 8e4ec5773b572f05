using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// Stands in for a deployed container: a plain HTTP/1.1 server on 127.0.0.1 with a page, a header echo, a streaming
/// upload hash, a streaming download of deterministic bytes, a WebSocket echo, a page that uses that WebSocket, and a
/// request that waits until the test releases it, and an event stream (/events) that sends what the test tells it to.
/// </summary>
internal sealed class UpstreamServer : IAsyncDisposable
{
    public const string PageMarker = "hello from the container";
    private readonly WebApplication _app;
    private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private UpstreamServer(WebApplication app) => _app = app;

    public IPEndPoint EndPoint { get; private set; } = null!;

    /// <summary>Completes when a request to /hold has arrived.</summary>
    public Task Held => _held.Task;

    public int Requests;

    /// <summary>The path of every request that arrived, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Paths { get; } = new();

    /// <summary>The connections requests came on (Kestrel's connection ids), each with the requests it carried.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Connections { get; } = new();

    private readonly Lock _holdingLock = new();
    private int _holding;
    private readonly List<(int Count, TaskCompletionSource Reached)> _holdingWaiters = [];

    /// <summary>Completes once at least <paramref name="count"/> requests to /hold are held at the same time.</summary>
    public Task HoldingAtLeastAsync(int count)
    {
        lock (_holdingLock)
        {
            if (_holding >= count)
                return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _holdingWaiters.Add((count, reached));
            return reached.Task;
        }
    }

    /// <summary>Requests to /hold held now.</summary>
    public int Holding
    {
        get { lock (_holdingLock) return _holding; }
    }

    /// <summary>Every request that reached the container: method, path, framing headers and the body length read.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<SeenRequest> Seen { get; } = new();

    public void ReleaseHeld() => _release.TrySetResult();

    private TaskCompletionSource<string> _nextEvent = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Event streams (/events) open now, each past its first event.</summary>
    public int EventStreams;

    /// <summary>Sends <paramref name="data"/> as the next event on every open /events stream.</summary>
    public void SendEvent(string data) => Interlocked.Exchange(ref _nextEvent, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(data);

    /// <summary>The Set-Cookie values /cookies answers with (read at each request).</summary>
    public Func<string[]> Cookies { get; set; } = () => [];

    public static async Task<UpstreamServer> StartAsync(string name = "web")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var server = new UpstreamServer(app);
        app.UseWebSockets();
        app.Run(context => server.HandleAsync(context, name));
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.EndPoint = new IPEndPoint(IPAddress.Loopback, new Uri(address).Port);
        return server;
    }

    private async Task HandleAsync(HttpContext context, string name)
    {
        Interlocked.Increment(ref Requests);
        Paths.Enqueue(context.Request.Path.Value ?? "");
        Connections.AddOrUpdate(context.Connection.Id, 1, (_, n) => n + 1);
        var request = context.Request;
        var response = context.Response;
        if (request.Path.StartsWithSegments("/record"))
        {
            byte[] body = await ReadAllAsync(request.Body);
            Seen.Enqueue(new SeenRequest(request.Method, request.Path.Value!, request.Host.Value ?? "",
                request.Headers.ContentLength, request.Headers.TransferEncoding.ToString(), Encoding.ASCII.GetString(body)));
            await response.WriteAsync($"recorded {request.Method} {request.Path} host={request.Host} body={body.Length} name={name}");
            return;
        }
        switch (request.Path.Value)
        {
            case "/":
                response.ContentType = "text/html; charset=utf-8";
                await response.WriteAsync($"<!doctype html><html><head><title>{name}</title></head><body><h1 id=\"marker\">{PageMarker}: {name}</h1></body></html>");
                break;
            case "/cookies":
                response.Headers.SetCookie = Cookies();
                await response.WriteAsync("cookies set");
                break;
            case "/headers":
                response.ContentType = "text/plain";
                var text = new StringBuilder();
                text.Append("protocol: ").Append(request.Protocol).Append('\n');
                foreach (var (key, value) in request.Headers)
                    text.Append(key.ToLowerInvariant()).Append(": ").Append(value.ToString()).Append('\n');
                await response.WriteAsync(text.ToString());
                break;
            case "/upload":
            {
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                byte[] buffer = new byte[64 * 1024];
                long total = 0;
                int read;
                while ((read = await request.Body.ReadAsync(buffer)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    total += read;
                }
                await response.WriteAsync($"{total} {Convert.ToHexStringLower(sha.GetHashAndReset())}");
                break;
            }
            case "/download":
            {
                long size = long.Parse(request.Query["size"].ToString());
                response.ContentType = "application/octet-stream";
                response.ContentLength = size;
                byte[] chunk = new byte[64 * 1024];
                long sent = 0;
                while (sent < size)
                {
                    int n = (int)Math.Min(chunk.Length, size - sent);
                    Pattern.Fill(chunk.AsSpan(0, n), sent);
                    await response.Body.WriteAsync(chunk.AsMemory(0, n));
                    sent += n;
                }
                break;
            }
            case "/ws" when context.WebSockets.IsWebSocketRequest:
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                byte[] buffer = new byte[64 * 1024];
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                        break;
                    }
                    string echoed = "echo: " + Encoding.UTF8.GetString(buffer, 0, result.Count);
                    await socket.SendAsync(Encoding.UTF8.GetBytes(echoed), WebSocketMessageType.Text, true, CancellationToken.None);
                }
                break;
            }
            case "/ws-page":
                response.ContentType = "text/html; charset=utf-8";
                await response.WriteAsync("""
                    <!doctype html><html><head><title>ws</title></head><body><div id="state">waiting</div>
                    <script>
                    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
                    ws.onopen = () => ws.send('ping from the browser');
                    ws.onmessage = e => { document.getElementById('state').textContent = 'got: ' + e.data; document.title = 'done'; };
                    ws.onerror = () => { document.getElementById('state').textContent = 'websocket error'; document.title = 'done'; };
                    </script></body></html>
                    """);
                break;
            case "/events":
            {
                // Server-sent events: one at once, then each one the test sends, until the client goes away.
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-cache";
                var next = Volatile.Read(ref _nextEvent).Task;
                await response.WriteAsync("data: hello\n\n");
                await response.Body.FlushAsync();
                Interlocked.Increment(ref EventStreams);
                try
                {
                    while (!context.RequestAborted.IsCancellationRequested)
                    {
                        string data = await next.WaitAsync(context.RequestAborted);
                        next = Volatile.Read(ref _nextEvent).Task;
                        await response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
                        await response.Body.FlushAsync(context.RequestAborted);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                finally
                {
                    Interlocked.Decrement(ref EventStreams);
                }
                break;
            }
            case "/hold":
                _held.TrySetResult();
                lock (_holdingLock)
                {
                    _holding++;
                    foreach (var waiter in _holdingWaiters.Where(w => w.Count <= _holding).ToList())
                    {
                        waiter.Reached.TrySetResult();
                        _holdingWaiters.Remove(waiter);
                    }
                }
                try
                {
                    await _release.Task.WaitAsync(context.RequestAborted);
                }
                finally
                {
                    lock (_holdingLock)
                        _holding--;
                }
                await response.WriteAsync("released");
                break;
            default:
                response.StatusCode = 404;
                break;
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream body)
    {
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

internal sealed record SeenRequest(string Method, string Path, string Host, long? ContentLength, string TransferEncoding, string Body);

/// <summary>Deterministic bytes for downloads: byte at offset i is a hash of i, so any position can be checked.</summary>
internal static class Pattern
{
    public static void Fill(Span<byte> destination, long offset)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            ulong x = (ulong)(offset + i) * 0x9E3779B97F4A7C15UL;
            destination[i] = (byte)(x >> 56);
        }
    }

    public static string Sha256Hex(long size)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] chunk = new byte[64 * 1024];
        for (long sent = 0; sent < size; sent += chunk.Length)
        {
            int n = (int)Math.Min(chunk.Length, size - sent);
            Fill(chunk.AsSpan(0, n), sent);
            sha.AppendData(chunk, 0, n);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// A tiny HTTP/1.x server on 127.0.0.1 (ephemeral port) serving the files of one folder, standing in for a release
/// page: GET /NAME answers the file NAME, anything else 404. Remembers which paths were asked for.
/// </summary>
internal sealed class LoopbackFileServer : IAsyncDisposable
{
    private const int MaxRequestHeaderBytes = 16 * 1024;
    private readonly string _folder;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _requested = new();

    public LoopbackFileServer(string folder)
    {
        _folder = folder;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>e.g. http://127.0.0.1:41234 (no trailing slash).</summary>
    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>The request paths seen so far, in order.</summary>
    public IReadOnlyList<string> Requested => [.. _requested];

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client, cancellationToken);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            string? requestLine = await ReadRequestLineAsync(stream, cancellationToken);
            string[] parts = requestLine?.Split(' ') ?? [];
            if (parts.Length < 3 || parts[0] is not ("GET" or "HEAD"))
            {
                await WriteAsync(stream, "400 Bad Request", [], cancellationToken);
                return;
            }
            string path = Uri.UnescapeDataString(parts[1].Split('?')[0]);
            _requested.Enqueue(path);
            // Flat folder: a name, never a path out of it.
            string name = path.TrimStart('/');
            string file = Path.Combine(_folder, name);
            if (name.Length == 0 || name.Contains('/') || name.Contains("..", StringComparison.Ordinal) || !File.Exists(file))
            {
                await WriteAsync(stream, "404 Not Found", Encoding.ASCII.GetBytes("not found\n"), cancellationToken);
                return;
            }
            byte[] body = parts[0] == "HEAD" ? [] : await File.ReadAllBytesAsync(file, cancellationToken);
            await WriteAsync(stream, "200 OK", body, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A client that went away.
        }
    }

    /// <summary>Reads the request head (up to the blank line) and returns its first line.</summary>
    private static async Task<string?> ReadRequestLineAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>(1024);
        var buffer = new byte[1024];
        while (head.Count < MaxRequestHeaderBytes)
        {
            int read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
                return null;
            head.AddRange(buffer.AsSpan(0, read));
            string text = Encoding.ASCII.GetString(head.ToArray());
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
                return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        }
        return null;
    }

    private static async Task WriteAsync(NetworkStream stream, string status, byte[] body, CancellationToken cancellationToken)
    {
        string head = $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

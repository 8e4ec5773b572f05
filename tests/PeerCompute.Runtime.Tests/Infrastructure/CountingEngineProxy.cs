using System.Net.Sockets;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>
/// A proxy on the engine's socket that counts what the runtime sends the engine: its bytes, and each request's line
/// ("GET /v1.41/containers/…/json"), found by their shape in the stream (bodies are JSON and never look like one).
/// </summary>
internal sealed partial class CountingEngineProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _target;
    private readonly string _folder;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _requestBytes;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _requests = new();

    private CountingEngineProxy(string target)
    {
        _target = target;
        // Short path: Unix socket paths are limited to 108 bytes.
        _folder = Path.Combine("/tmp", "pcep-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_folder);
        string path = Path.Combine(_folder, "engine.sock");
        Endpoint = "unix://" + path;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public string Endpoint { get; }
    public long RequestBytes => Interlocked.Read(ref _requestBytes);

    /// <summary>Every request line so far, in the order they were seen (per connection).</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public static CountingEngineProxy Start(string target) => new(target);

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        using var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await engine.ConnectAsync(new UnixDomainSocketEndPoint(_target), _stop.Token);
            await Task.WhenAll(CopyAsync(client, engine, count: true), CopyAsync(engine, client, count: false));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task CopyAsync(Socket from, Socket to, bool count)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                    break;
                if (count)
                {
                    Interlocked.Add(ref _requestBytes, read);
                    foreach (System.Text.RegularExpressions.Match line in RequestLine().Matches(System.Text.Encoding.Latin1.GetString(buffer, 0, read)))
                        _requests.Enqueue(line.Groups[1].Value);
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            from.Dispose();
            to.Dispose();
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?:^|\n)((?:GET|HEAD|POST|PUT|DELETE) /\S+) HTTP/1\.1\r\n")]
    private static partial System.Text.RegularExpressions.Regex RequestLine();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

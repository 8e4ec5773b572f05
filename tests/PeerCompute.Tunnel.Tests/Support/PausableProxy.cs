using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// A TCP relay on loopback. <see cref="FreezeExisting"/> silently stops moving bytes on every connection open now
/// (the sockets stay open, like a half-open link after a network change); later connections are relayed normally.
/// </summary>
internal sealed class PausableProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Link> _links = [];
    private readonly Task _accepting;

    public PausableProxy(IPEndPoint target)
    {
        _target = target;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Awaited for each accepted connection before it is relayed (the test acts while the client waits).</summary>
    public Func<Task>? BeforeRelay { get; set; }

    public int Connections
    {
        get { lock (_links) return _links.Count; }
    }

    public void FreezeExisting()
    {
        lock (_links)
            foreach (var link in _links)
                link.Frozen.Cancel();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                if (BeforeRelay is { } before)
                    await before();
                var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await server.ConnectAsync(_target, _stop.Token);
                var link = new Link(client, server, CancellationTokenSource.CreateLinkedTokenSource(_stop.Token));
                lock (_links)
                    _links.Add(link);
                _ = Pump(client, server, link);
                _ = Pump(server, client, link);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task Pump(Socket from, Socket to, Link link)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, link.Frozen.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, link.Frozen.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Frozen: keep both sockets open and silent. Stopped: they are closed in DisposeAsync.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
        lock (_links)
        {
            foreach (var link in _links)
            {
                link.Client.Dispose();
                link.Server.Dispose();
            }
        }
    }

    private sealed record Link(Socket Client, Socket Server, CancellationTokenSource Frozen);
}

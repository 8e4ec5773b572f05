using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A loopback TCP proxy that forwards to an upstream (TCP or unix socket) until a client sends bytes
/// containing <c>marker</c> (e.g. a registry blob request, or the engine API's container start); that
/// first request is held, never forwarded, and <see cref="Stalled"/> completes; later ones pass.
/// Makes "during the pull" or "between create and start" an observable moment instead of a race.
/// </summary>
internal sealed class StallingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly EndPoint _upstream;
    private readonly byte[] _marker;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly TaskCompletionSource<string> _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _accepting;

    public StallingProxy(EndPoint upstream, string marker)
    {
        _upstream = upstream;
        _marker = Encoding.ASCII.GetBytes(marker);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>First line of every chunk a client sent, for the test's output when something goes wrong.</summary>
    public global::System.Collections.Concurrent.ConcurrentQueue<string> Seen { get; } = new();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes with the first line of the held request.</summary>
    public Task<string> Stalled => _stalled.Task;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_clients)
                    _clients.Add(client);
                _ = ServeAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var upstream = new Socket(_upstream.AddressFamily, SocketType.Stream, _upstream is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            await upstream.ConnectAsync(_upstream, _stop.Token);
            var down = client.GetStream();
            await using var up = new NetworkStream(upstream, ownsSocket: false);
            var back = PumpBackAsync(up, client.Client);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                int n = await down.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    upstream.Shutdown(SocketShutdown.Send); // pass the half-close on, as the client meant it
                    break;
                }
                Seen.Enqueue(Encoding.ASCII.GetString(buffer, 0, Math.Min(n, 120)).Split('\r')[0]);
                int at = buffer.AsSpan(0, n).IndexOf(_marker);
                if (at >= 0 && _stalled.TrySetResult(Encoding.ASCII.GetString(buffer, 0, n).Split('\r')[0]))
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token); // hold the request until disposed
                }
                await up.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
            await back;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task PumpBackAsync(NetworkStream up, Socket client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await up.ReadAsync(buffer, _stop.Token)) > 0)
                await client.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var client in _clients)
                client.Dispose();
        }
        await _accepting;
    }
}

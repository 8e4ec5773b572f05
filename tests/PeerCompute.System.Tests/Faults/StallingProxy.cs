using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A loopback TCP proxy that forwards to <c>upstream</c> until a client sends bytes containing
/// <c>marker</c> (e.g. a registry blob request); that request is held, never forwarded, and
/// <see cref="Stalled"/> completes. Makes "during the pull" an observable moment instead of a race.
/// </summary>
internal sealed class StallingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly byte[] _marker;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly TaskCompletionSource<string> _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _accepting;

    public StallingProxy(IPEndPoint upstream, string marker)
    {
        _upstream = upstream;
        _marker = Encoding.ASCII.GetBytes(marker);
        _listener.Start();
        _accepting = AcceptAsync();
    }

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
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_upstream, _stop.Token);
            var down = client.GetStream();
            var up = upstream.GetStream();
            var back = up.CopyToAsync(down, _stop.Token);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                int n = await down.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                    break;
                int at = buffer.AsSpan(0, n).IndexOf(_marker);
                if (at >= 0)
                {
                    string text = Encoding.ASCII.GetString(buffer, 0, n);
                    _stalled.TrySetResult(text[..Math.Max(0, text.IndexOf('\r'))]);
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

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var client in _clients)
                client.Dispose();
        }
        await _accepting;
        _stop.Dispose();
    }
}

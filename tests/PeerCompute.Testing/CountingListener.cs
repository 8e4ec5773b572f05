using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Testing;

/// <summary>
/// A TCP port that counts the connections made to it, answers each with <paramref name="banner"/> (when given) and
/// closes it: where a registry "is", so a test can tell whether the engine was sent there at all.
/// </summary>
public sealed class CountingListener : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly byte[] _banner;
    private readonly Task _accepting;
    private int _connections;

    private CountingListener(IPAddress address, string? banner)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _banner = Encoding.ASCII.GetBytes(banner ?? "");
        _accepting = AcceptAsync();
    }

    public static CountingListener Start(IPAddress address, string? banner = null) => new(address, banner);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            using (socket)
            {
                try
                {
                    if (_banner.Length > 0)
                        await socket.SendAsync(_banner).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
    }
}

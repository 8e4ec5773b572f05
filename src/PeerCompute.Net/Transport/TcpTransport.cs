using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Transport;

/// <summary>
/// Plain TCP: dials <c>/ip4|ip6|dns|dns4|dns6/…/tcp/…</c> and listens on <c>/ip4|ip6/&lt;address&gt;/tcp/&lt;port&gt;</c>
/// (port 0 picks one). Sockets get <c>TCP_NODELAY</c>: the upgrade and yamux write small frames.
/// </summary>
internal sealed class TcpTransport : ITransport
{
    /// <summary>Pending connections the kernel queues per listener before we accept them.</summary>
    public int ListenBacklog { get; init; } = 512;

    public bool CanDial(Multiaddr address) => address.TryGetTcpTarget(out _, out _);

    public bool CanListen(Multiaddr address) => address.TryGetTcpTarget(out string host, out _) && IPAddress.TryParse(host, out _);

    public async Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        if (!address.TryGetTcpTarget(out string host, out int port))
            throw new NotSupportedException($"Cannot dial {address}: not a TCP address.");
        var ip = await ResolveAsync(address.Components[0].Protocol, host, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(ip, port, cancellationToken).ConfigureAwait(false);
            return Wrap(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ITransportListener Listen(Multiaddr address)
    {
        if (!address.TryGetTcpTarget(out string host, out int port) || !IPAddress.TryParse(host, out var ip))
            throw new ArgumentException($"Cannot listen on {address}: not a TCP address with an IP.", nameof(address));
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(ListenBacklog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new Listener(socket);
    }

    /// <summary>The stream owns the socket.</summary>
    private static TransportConnection Wrap(Socket socket)
    {
        var remote = socket.RemoteEndPoint;
        return new TransportConnection(new NetworkStream(socket, ownsSocket: true), Multiaddr.FromEndPoint((IPEndPoint)remote!),
            Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!), remote);
    }

    private static async Task<IPAddress> ResolveAsync(MultiaddrProtocol protocol, string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var ip))
            return ip;
        var family = protocol switch
        {
            MultiaddrProtocol.Dns4 => AddressFamily.InterNetwork,
            MultiaddrProtocol.Dns6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unspecified,
        };
        var addresses = await System.Net.Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
        return addresses.Length > 0 ? addresses[0] : throw new IOException($"'{host}' does not resolve.");
    }

    private sealed class Listener(Socket socket) : ITransportListener
    {
        public Multiaddr Address { get; } = Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!);

        public IReadOnlyList<Multiaddr> ReachableAddresses
        {
            get
            {
                var endPoint = (IPEndPoint)socket.LocalEndPoint!;
                if (!endPoint.Address.Equals(IPAddress.Any) && !endPoint.Address.Equals(IPAddress.IPv6Any))
                    return [Address];
                return [.. InterfaceAddresses(endPoint.Address.AddressFamily).Select(ip => Multiaddr.FromEndPoint(new IPEndPoint(ip, endPoint.Port)))];
            }
        }

        public async ValueTask<TransportConnection> AcceptAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException) when (!cancellationToken.IsCancellationRequested)
                {
                    continue; // one failed accept (the peer gave up in the queue) is not the end of listening
                }
                try
                {
                    accepted.NoDelay = true;
                    return Wrap(accepted);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    accepted.Dispose(); // reset before we looked at it
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        /// <summary>Interfaces that are up; loopback when there are none (a bare namespace), so a wildcard still names something.</summary>
        private static List<IPAddress> InterfaceAddresses(AddressFamily family)
        {
            var found = LocalInterfaces.Addresses(LocalInterfaces.IsUp, family);
            return found.Count > 0 ? found : [family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback];
        }
    }
}

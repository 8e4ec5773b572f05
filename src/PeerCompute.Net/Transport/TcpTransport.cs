using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Transport;

/// <summary>
/// Plain TCP: dials <c>/ip4|ip6|dns|dns4|dns6/…/tcp/…</c> and listens on <c>/ip4|ip6/&lt;address&gt;/tcp/&lt;port&gt;</c>
/// (port 0 picks one). Sockets get <c>TCP_NODELAY</c>: the upgrade and yamux write small frames.
/// With <see cref="ReuseListenPort"/>, outgoing connections leave from the port we listen on (SO_REUSEADDR and
/// SO_REUSEPORT on both), so a NAT maps them to the same public port that peers observe for us: what hole punching needs.
/// </summary>
internal sealed class TcpTransport : ITransport
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;
    private readonly Lock _lock = new();
    private readonly List<IPEndPoint> _bound = [];

    /// <summary>Pending connections the kernel queues per listener before we accept them.</summary>
    public int ListenBacklog { get; init; } = 512;

    /// <summary>Dial from the listening port (falls back to an ephemeral one when that 4-tuple is taken).</summary>
    public bool ReuseListenPort { get; init; }

    /// <summary>Makes each socket; tests make them inside a network namespace of theirs.</summary>
    internal Func<AddressFamily, Socket> SocketFactory { get; init; } = family => new Socket(family, SocketType.Stream, ProtocolType.Tcp);

    /// <summary>The local port outgoing connections of <paramref name="family"/> leave from, when they reuse a listening port.</summary>
    public int? SourcePort(AddressFamily family)
    {
        if (!ReuseListenPort)
            return null;
        lock (_lock)
            return _bound.Find(e => e.AddressFamily == family)?.Port;
    }

    public bool CanDial(Multiaddr address) => address.TryGetTcpTarget(out _, out _);

    public bool CanListen(Multiaddr address) => address.TryGetTcpTarget(out string host, out _) && IPAddress.TryParse(host, out _);

    public async Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        if (!address.TryGetTcpTarget(out string host, out int port))
            throw new NotSupportedException($"Cannot dial {address}: not a TCP address.");
        var ip = await ResolveAsync(address.Components[0].Protocol, host, cancellationToken).ConfigureAwait(false);
        if (SourcePort(ip.AddressFamily) is int source)
        {
            try
            {
                return await ConnectAsync(ip, port, source, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable)
            {
                // That exact connection exists already (same source port, same peer): a fresh port will do.
            }
        }
        return await ConnectAsync(ip, port, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TransportConnection> ConnectAsync(IPAddress ip, int port, int? sourcePort, CancellationToken cancellationToken)
    {
        var socket = SocketFactory(ip.AddressFamily);
        try
        {
            socket.NoDelay = true;
            if (sourcePort is int source)
            {
                SetReuse(socket);
                socket.Bind(new IPEndPoint(ip.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, source));
            }
            await socket.ConnectAsync(ip, port, cancellationToken).ConfigureAwait(false);
            return Wrap(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void SetReuse(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (OperatingSystem.IsLinux())
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
    }

    public ITransportListener Listen(Multiaddr address)
    {
        if (!address.TryGetTcpTarget(out string host, out int port) || !IPAddress.TryParse(host, out var ip))
            throw new ArgumentException($"Cannot listen on {address}: not a TCP address with an IP.", nameof(address));
        var socket = SocketFactory(ip.AddressFamily);
        try
        {
            if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            if (ReuseListenPort)
            {
                // SO_REUSEPORT would let a second listener (another instance) share the port without a word: make sure
                // nobody holds it first, with a plain bind, as a listener without reuse would.
                if (port != 0)
                {
                    using var probe = SocketFactory(ip.AddressFamily);
                    if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                        probe.DualMode = false;
                    probe.Bind(new IPEndPoint(ip, port));
                }
                SetReuse(socket);
            }
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(ListenBacklog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        lock (_lock)
            _bound.Add(bound);
        return new Listener(socket, () =>
        {
            lock (_lock)
                _bound.Remove(bound);
        });
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

    private sealed class Listener(Socket socket, Action stopped) : ITransportListener
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
            stopped();
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

using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Dns;

namespace PeerCompute.Net.Mdns;

/// <summary>
/// libp2p mDNS (see src/PeerCompute.Net/README.md, "mDNS"): answers <c>_p2p._udp.local</c> PTR queries with PTR + TXT <c>dnsaddr=</c> records by
/// multicast, queries at start and periodically, and reports peers that answer. Discovery never trusts and never dials.
/// Sockets and interface lists are taken in <see cref="Start"/>, synchronously, on the calling thread (so a caller that
/// entered a network namespace on that thread gets sockets inside it).
/// </summary>
public sealed class MdnsService : IAsyncDisposable
{
    private static readonly IPAddress GroupV4 = IPAddress.Parse("224.0.0.251");
    private static readonly IPAddress GroupV6 = IPAddress.Parse("ff02::fb");
    private readonly PeerId? _localPeer;
    private readonly Func<IReadOnlyList<Multiaddr>> _addresses;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly List<Task> _loops = [];
    private Socket? _v4;
    private Socket? _v6;
    private List<IPAddress> _v4Interfaces = [];
    private List<int> _v6Interfaces = [];
    private long _lastResponseTicks = long.MinValue / 2;
    private int _disposed;

    /// <param name="localPeer">Our id, to announce and to ignore; null for a discover-only client without one.</param>
    /// <param name="addresses">Our concrete listen addresses (without /p2p); wildcards are expanded again here anyway.</param>
    public MdnsService(PeerId? localPeer, Func<IReadOnlyList<Multiaddr>>? addresses, MdnsServiceOptions? options = null)
    {
        Options = options ?? new MdnsServiceOptions();
        if (Options.Announce && (localPeer is null || addresses is null))
            throw new ArgumentException("Announcing needs a peer id and addresses.", nameof(addresses));
        _localPeer = localPeer;
        _addresses = addresses ?? (() => []);
        PeerName = Options.PeerName ?? RandomPeerName();
    }

    public MdnsServiceOptions Options { get; }

    /// <summary>Our instance name (not the PeerId).</summary>
    public string PeerName { get; }

    /// <summary>A peer answered (each response raises it again; dedupe if needed). Handlers run on the receive loop.</summary>
    public event Action<MdnsDiscoveredPeer>? PeerDiscovered;

    /// <summary>A packet failed to parse or to send; for logs only.</summary>
    public event Action<string>? Problem;

    /// <summary>Binds the sockets, joins the groups and starts answering and querying.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_v4 is not null || _v6 is not null)
            throw new InvalidOperationException("already started");
        _v4Interfaces = LocalInterfaces.Addresses(LocalInterfaces.IsMulticastCapable, AddressFamily.InterNetwork);
        _v4 = OpenV4();
        if (Options.UseIPv6 && Socket.OSSupportsIPv6)
        {
            try
            {
                _v6 = OpenV6();
            }
            catch (SocketException ex)
            {
                Problem?.Invoke($"no IPv6 mDNS: {ex.Message}");
            }
        }
        if (_v6 is null && _v4 is null)
            throw new SocketException((int)SocketError.AddressNotAvailable);
        foreach (var socket in (Socket?[])[_v4, _v6])
        {
            if (socket is not null)
                _loops.Add(Task.Run(() => ReceiveLoopAsync(socket, _stop.Token)));
        }
        _loops.Add(Task.Run(() => QueryLoopAsync(_stop.Token)));
    }

    /// <summary>Sends one query now (answers arrive through <see cref="PeerDiscovered"/>).</summary>
    public Task QueryAsync(CancellationToken cancellationToken = default) =>
        SendAsync(MdnsRecords.Query(), cancellationToken);

    /// <summary>Queries and collects answers for <paramref name="duration"/>; one entry per peer, addresses merged.</summary>
    public async Task<IReadOnlyList<MdnsDiscoveredPeer>> DiscoverAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var found = new Dictionary<PeerId, MdnsDiscoveredPeer>();
        void OnPeer(MdnsDiscoveredPeer peer)
        {
            lock (found)
            {
                if (found.TryGetValue(peer.PeerId, out var known))
                    peer = peer with { Addresses = [.. known.Addresses.Union(peer.Addresses).Take(Options.MaxAddressesPerPeer)] };
                found[peer.PeerId] = peer;
            }
        }
        PeerDiscovered += OnPeer;
        try
        {
            // Ask again after 1 s, 2 s, 4 s … (RFC 6762 §5.2): a lost packet, or an answer a responder
            // held back by its minimum interval, is not the end of the discovery.
            var deadline = DateTime.UtcNow + duration;
            var gap = TimeSpan.FromSeconds(1);
            while (true)
            {
                await QueryAsync(cancellationToken).ConfigureAwait(false);
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    break;
                await Task.Delay(left < gap ? left : gap, cancellationToken).ConfigureAwait(false);
                if (DateTime.UtcNow >= deadline)
                    break;
                gap += gap;
            }
        }
        finally
        {
            PeerDiscovered -= OnPeer;
        }
        lock (found)
            return [.. found.Values];
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stop.Cancel();
        _v4?.Dispose();
        _v6?.Dispose();
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
        _sendGate.Dispose();
    }

    /// <summary>Lower-case alphanumeric, 32 to 63 characters, as js picks them.</summary>
    public static string RandomPeerName()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        int length = RandomNumberGenerator.GetInt32(32, 64);
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    private byte[] BuildResponse() =>
        MdnsRecords.Response(MdnsServiceOptions.ServiceName, PeerName + "." + MdnsServiceOptions.ServiceName,
            MdnsRecords.AnnouncementTxt(_addresses(), _localPeer!, InterfaceAddresses), Options.Ttl, Options.MaxPacketBytes);

    private IEnumerable<IPAddress> InterfaceAddresses(AddressFamily family) =>
        family == AddressFamily.InterNetwork ? _v4Interfaces : LocalInterfaces.Addresses(LocalInterfaces.IsMulticastCapable, family);

    private async Task QueryLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Announce once unasked, so peers already running learn of us before their next periodic query.
            if (Options.Announce)
            {
                Interlocked.Exchange(ref _lastResponseTicks, Environment.TickCount64);
                await SendAsync(BuildResponse(), cancellationToken).ConfigureAwait(false);
            }
            await QueryAsync(cancellationToken).ConfigureAwait(false);
            if (Options.QueryInterval == Timeout.InfiniteTimeSpan)
                return;
            using var timer = new PeriodicTimer(Options.QueryInterval);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                await QueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task ReceiveLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[Options.MaxPacketBytes];
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.ConnectionReset)
            {
                continue;
            }
            catch (SocketException)
            {
                return;
            }
            try
            {
                await HandlePacketAsync(buffer.AsMemory(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task HandlePacketAsync(ReadOnlyMemory<byte> packet, IPEndPoint from, CancellationToken cancellationToken)
    {
        if (!MdnsRecords.TryParse(packet.Span, out var message, out string? error, new DnsLimits { MaxMessageBytes = Options.MaxPacketBytes }))
        {
            Problem?.Invoke($"ignored a malformed mDNS packet from {from}: {error}");
            return;
        }
        if (message!.IsResponse)
        {
            foreach (var (peer, addresses) in MdnsRecords.PeersIn(message, _localPeer, PeerName, Options.MaxAddressesPerPeer))
            {
                try
                {
                    PeerDiscovered?.Invoke(new MdnsDiscoveredPeer(peer, addresses, from));
                }
                catch (Exception ex)
                {
                    Problem?.Invoke($"PeerDiscovered handler failed: {ex.Message}");
                }
            }
            return;
        }
        if (!Options.Announce || !MdnsRecords.IsServiceQuery(message))
            return;
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastResponseTicks);
        if (now - last < (long)Options.MinResponseInterval.TotalMilliseconds
            || Interlocked.CompareExchange(ref _lastResponseTicks, now, last) != last)
            return;
        // js only listens to multicast, so we answer by multicast even when the asker set the unicast bit.
        await SendAsync(BuildResponse(), cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(byte[] packet, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _sendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_v4 is { } v4)
            {
                // One copy out of each interface: the kernel would otherwise pick only the default route's.
                List<IPAddress?> via = _v4Interfaces.Count == 0 ? [null] : [.. _v4Interfaces];
                foreach (var local in via)
                {
                    try
                    {
                        if (local is not null)
                            v4.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, local.GetAddressBytes());
                        await v4.SendToAsync(packet, SocketFlags.None, new IPEndPoint(GroupV4, Options.Port), cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException ex)
                    {
                        Problem?.Invoke($"mDNS send via {local?.ToString() ?? "default"} failed: {ex.Message}");
                    }
                }
            }
            if (_v6 is { } v6)
            {
                foreach (int index in _v6Interfaces)
                {
                    try
                    {
                        v6.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, index);
                        await v6.SendToAsync(packet, SocketFlags.None, new IPEndPoint(GroupV6, Options.Port), cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException ex)
                    {
                        Problem?.Invoke($"mDNS IPv6 send via interface {index} failed: {ex.Message}");
                    }
                }
            }
        }
        finally
        {
            _sendGate.Release();
        }
    }

    private Socket? OpenV4()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Any, Options.Port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            int joined = 0;
            foreach (var local in _v4Interfaces)
            {
                try
                {
                    socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(GroupV4, local));
                    joined++;
                }
                catch (SocketException ex)
                {
                    Problem?.Invoke($"cannot join {GroupV4} on {local}: {ex.Message}");
                }
            }
            if (joined == 0)
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(GroupV4));
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            if (!Options.UseIPv6)
                throw;
            Problem?.Invoke($"no IPv4 mDNS: {ex.Message}");
            return null;
        }
    }

    private Socket? OpenV6()
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.DualMode = false;
            socket.Bind(new IPEndPoint(IPAddress.IPv6Any, Options.Port));
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, 255);
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
            var indices = new List<int>();
            foreach (var n in LocalInterfaces.List(LocalInterfaces.IsMulticastCapable))
            {
                var v6 = n.GetIPProperties().GetIPv6Properties();
                if (v6 is null || !n.GetIPProperties().UnicastAddresses.Any(u => u.Address.AddressFamily == AddressFamily.InterNetworkV6))
                    continue;
                try
                {
                    socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(GroupV6, v6.Index));
                    indices.Add(v6.Index);
                }
                catch (SocketException)
                {
                    // best effort: an interface without IPv6 multicast is simply skipped
                }
            }
            if (indices.Count == 0)
            {
                socket.Dispose();
                return null;
            }
            _v6Interfaces = indices;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

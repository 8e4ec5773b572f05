using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;

namespace PeerCompute.Net.Dns;

/// <summary>The limits of <see cref="AuthoritativeDnsServer"/>.</summary>
public sealed record AuthoritativeDnsOptions
{
    /// <summary>Queries one source (IPv4 address, IPv6 /64) may send per second, UDP and TCP together; beyond it they are dropped.</summary>
    public double QueriesPerSecond { get; init; } = 50;

    /// <summary>Queries one source may send at once after a quiet spell.</summary>
    public int Burst { get; init; } = 100;

    /// <summary>
    /// Rate-limit buckets at most: sources are hashed (with a per-process seed) onto this many, so a flood of spoofed
    /// source addresses cannot grow memory; two sources rarely share one.
    /// </summary>
    public int RateLimitSlots { get; init; } = 4096;

    /// <summary>TCP connections at once, and from one source.</summary>
    public int MaxTcpConnections { get; init; } = 64;
    public int MaxTcpConnectionsPerSource { get; init; } = 8;

    /// <summary>A TCP connection that sends no complete query for this long is closed (RFC 7766 §6.2.3).</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest response sent over TCP (over UDP: 512 bytes, or the asker's EDNS size up to 1232).</summary>
    public int MaxTcpResponseBytes { get; init; } = 16 * 1024;
}

/// <summary>
/// The gateway's authoritative DNS server for its own zone, over UDP and TCP on one port (<see cref="DnsResponder"/>
/// makes the answers). Per-source rate limit (System.Threading.RateLimiting token buckets); bounded TCP connections,
/// each closed when idle; never a response to a response.
/// </summary>
public sealed class AuthoritativeDnsServer : IAsyncDisposable
{
    private readonly DnsZone _zone;
    private readonly AuthoritativeDnsOptions _options;
    private readonly ILogger? _logger;
    private readonly PartitionedRateLimiter<int> _limiter;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, int> _tcpPerSource = new(StringComparer.Ordinal);
    private readonly Lock _tcpLock = new();
    private readonly List<Task> _loops = [];
    private Socket? _udp;
    private Socket? _tcp;
    private int _tcpConnections;
    private long _queries;
    private long _rateLimited;
    private long _tcpRefused;

    public AuthoritativeDnsServer(DnsZone zone, AuthoritativeDnsOptions? options = null, ILogger? logger = null)
    {
        _zone = zone;
        _options = options ?? new AuthoritativeDnsOptions();
        if (_options.QueriesPerSecond <= 0 || _options.Burst < 1 || _options.RateLimitSlots < 1 || _options.MaxTcpConnections < 1 || _options.MaxTcpConnectionsPerSource < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "the rate, burst, slots and connection limits must be positive");
        _logger = logger;
        // The partitioned limiter replenishes its buckets itself (one timer, every 100 ms): tokens come in that period's
        // share of the rate, or one per longer period for slow rates.
        var period = TimeSpan.FromMilliseconds(100);
        int perPeriod = Math.Max(1, (int)Math.Round(_options.QueriesPerSecond * period.TotalSeconds));
        if (_options.QueriesPerSecond < 10)
        {
            period = TimeSpan.FromSeconds(1 / _options.QueriesPerSecond);
            perPeriod = 1;
        }
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = _options.Burst,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = false,
        };
        _limiter = PartitionedRateLimiter.Create<int, int>(slot => RateLimitPartition.GetTokenBucketLimiter(slot, _ => bucket));
    }

    public DnsZone Zone => _zone;

    /// <summary>Where UDP and TCP listen (one port for both); set by <see cref="Start"/>.</summary>
    public IPEndPoint? EndPoint { get; private set; }

    public long Queries => Interlocked.Read(ref _queries);

    /// <summary>Queries dropped by the per-source rate limit.</summary>
    public long RateLimited => Interlocked.Read(ref _rateLimited);

    /// <summary>TCP connections closed at once because of the connection limits.</summary>
    public long TcpRefused => Interlocked.Read(ref _tcpRefused);

    public int TcpConnections => Volatile.Read(ref _tcpConnections);

    /// <summary>Binds UDP and TCP to <paramref name="address"/> and <paramref name="port"/> (0: one free port for both) and starts serving.</summary>
    public void Start(IPAddress address, int port)
    {
        for (int attempt = 0; ; attempt++)
        {
            var udp = NewSocket(address, SocketType.Dgram, ProtocolType.Udp);
            var tcp = NewSocket(address, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                udp.Bind(new IPEndPoint(address, port));
                int bound = ((IPEndPoint)udp.LocalEndPoint!).Port;
                tcp.Bind(new IPEndPoint(address, bound));
                tcp.Listen(_options.MaxTcpConnections);
                _udp = udp;
                _tcp = tcp;
                EndPoint = new IPEndPoint(address, bound);
                break;
            }
            catch (SocketException) when (port == 0 && attempt < 20)
            {
                // The free UDP port was taken for TCP: try another.
                udp.Dispose();
                tcp.Dispose();
            }
            catch
            {
                udp.Dispose();
                tcp.Dispose();
                throw;
            }
        }
        _loops.Add(Task.Run(UdpLoopAsync));
        _loops.Add(Task.Run(TcpAcceptLoopAsync));
    }

    private static Socket NewSocket(IPAddress address, SocketType type, ProtocolType protocol)
    {
        var socket = new Socket(address.AddressFamily, type, protocol);
        if (address.Equals(IPAddress.IPv6Any))
            socket.DualMode = true;
        return socket;
    }

    /// <summary>Takes one token for the query's source; false (the query is dropped) when it has none left.</summary>
    internal bool Admit(IPAddress source)
    {
        using var lease = _limiter.AttemptAcquire(Slot(source));
        if (lease.IsAcquired)
            return true;
        Interlocked.Increment(ref _rateLimited);
        return false;
    }

    private int Slot(IPAddress source)
    {
        Span<byte> bytes = stackalloc byte[16];
        source = Normalize(source);
        source.TryWriteBytes(bytes, out int written);
        // IPv6: one /64 is one source (a host holds the whole /64).
        var key = bytes[..(written == 16 ? 8 : written)];
        var hash = new HashCode();
        hash.AddBytes(key);
        return (int)((uint)hash.ToHashCode() % (uint)_options.RateLimitSlots);
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private async Task UdpLoopAsync()
    {
        var socket = _udp!;
        byte[] buffer = new byte[DnsResponder.MaxQueryBytes + 1];
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                // An ICMP unreachable from an earlier answer, or a datagram larger than any query: neither stops the server.
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            var from = (IPEndPoint)received.RemoteEndPoint;
            Interlocked.Increment(ref _queries);
            if (!Admit(from.Address))
                continue;
            byte[]? response;
            try
            {
                response = DnsResponder.Respond(buffer.AsSpan(0, received.ReceivedBytes), _zone, tcp: false);
            }
            catch (Exception e)
            {
                _logger?.LogWarning("dns: no answer to a query from {Source}: {Error}", from, e.Message);
                continue;
            }
            if (response is null)
                continue;
            try
            {
                await socket.SendToAsync(response, SocketFlags.None, from, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The asker is gone or we are stopping; the next datagram is unaffected.
            }
        }
    }

    private async Task TcpAcceptLoopAsync()
    {
        var listener = _tcp!;
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            string source = SourceKey(((IPEndPoint)client.RemoteEndPoint!).Address);
            if (!TryEnterTcp(source))
            {
                Interlocked.Increment(ref _tcpRefused);
                client.Dispose();
                continue;
            }
            _ = ServeTcpAsync(client, source);
        }
    }

    private static string SourceKey(IPAddress address)
    {
        address = Normalize(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return address.ToString();
        byte[] bytes = address.GetAddressBytes();
        bytes.AsSpan(8).Clear();
        return new IPAddress(bytes).ToString();
    }

    private bool TryEnterTcp(string source)
    {
        lock (_tcpLock)
        {
            int here = _tcpPerSource.GetValueOrDefault(source);
            if (_tcpConnections >= _options.MaxTcpConnections || here >= _options.MaxTcpConnectionsPerSource)
                return false;
            _tcpPerSource[source] = here + 1;
            _tcpConnections++;
            return true;
        }
    }

    private void LeaveTcp(string source)
    {
        lock (_tcpLock)
        {
            _tcpConnections--;
            if (_tcpPerSource[source] == 1)
                _tcpPerSource.Remove(source);
            else
                _tcpPerSource[source]--;
        }
    }

    /// <summary>Queries one after another on one connection (RFC 7766): each a 2-byte length then the message.</summary>
    private async Task ServeTcpAsync(Socket client, string source)
    {
        var address = ((IPEndPoint)client.RemoteEndPoint!).Address;
        byte[] buffer = new byte[DnsResponder.MaxQueryBytes];
        byte[] prefix = new byte[2];
        try
        {
            using (client)
            {
                client.NoDelay = true;
                while (true)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    idle.CancelAfter(_options.TcpIdleTimeout);
                    if (!await ReadExactlyAsync(client, prefix, idle.Token).ConfigureAwait(false))
                        return;
                    int length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
                    // A query longer than any we answer: the rest of the stream cannot be trusted to be framed as we think.
                    if (length > buffer.Length)
                        return;
                    if (!await ReadExactlyAsync(client, buffer.AsMemory(0, length), idle.Token).ConfigureAwait(false))
                        return;
                    Interlocked.Increment(ref _queries);
                    if (!Admit(address))
                        return;
                    byte[]? response = DnsResponder.Respond(buffer.AsSpan(0, length), _zone, tcp: true, _options.MaxTcpResponseBytes);
                    if (response is null)
                        continue;
                    byte[] framed = new byte[response.Length + 2];
                    BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)response.Length);
                    response.CopyTo(framed, 2);
                    await client.SendAsync(framed, SocketFlags.None, idle.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Idle, gone or stopping: the connection ends.
        }
        catch (Exception e)
        {
            _logger?.LogWarning("dns: TCP connection from {Source} ended: {Error}", address, e.Message);
        }
        finally
        {
            LeaveTcp(source);
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the peer closed before sending anything of it.</summary>
    private static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _udp?.Dispose();
        _tcp?.Dispose();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _limiter.Dispose();
        _stop.Dispose();
    }
}

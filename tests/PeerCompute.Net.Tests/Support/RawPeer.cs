using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Mux;

namespace PeerCompute.Net.Tests.Support;

/// <summary>A hand-driven peer for hostile-input tests: raw TCP, then optionally Noise, then raw yamux frames.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private RawPeer(Socket socket)
    {
        Socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
    }

    public Socket Socket { get; }

    /// <summary>The raw TCP stream, replaced by the Noise stream after <see cref="SecureAsync"/>.</summary>
    public Stream Stream { get; private set; }

    /// <param name="source">The local address to connect from (e.g. 127.0.5.1, so many peers come from distinct addresses); any when null.</param>
    public static async Task<RawPeer> ConnectAsync(Multiaddr address, int receiveBuffer = 0, IPAddress? source = null)
    {
        address.TryGetTcpTarget(out var host, out int port);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer > 0)
            socket.ReceiveBufferSize = receiveBuffer;
        if (source is not null)
            socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(IPAddress.Parse(host), port);
        return new RawPeer(socket);
    }

    /// <summary>multistream /noise and a correct Noise handshake; yamux is then inlined (both sides list it).</summary>
    public async Task SecureAsync(PeerIdentity identity)
    {
        await MultistreamSelect.SelectAsync(Stream, NoiseSecurity.ProtocolId, CancellationToken.None);
        var secured = await NoiseSecurity.SecureOutboundAsync(Stream, identity, null, ["/yamux/1.0.0"], CancellationToken.None);
        Stream = secured.Stream;
    }

    public async Task SendAsync(params byte[][] parts)
    {
        foreach (var part in parts)
            await Stream.WriteAsync(part);
        await Stream.FlushAsync();
    }

    public static byte[] Frame(YamuxFrameType type, YamuxFlags flags, uint stream, uint length, byte[]? body = null) =>
        [.. new YamuxFrameHeader(type, flags, stream, length).ToArray(), .. body ?? []];

    /// <summary>Reads yamux frames until the connection ends; returns the GoAway code seen, if any.</summary>
    public async Task<uint?> ReadUntilClosedAsync(TimeSpan guard)
    {
        using var timeout = new CancellationTokenSource(guard);
        var buffer = new byte[64 * 1024];
        var pending = new List<byte>();
        uint? goAway = null;
        long skip = 0;
        try
        {
            while (true)
            {
                int n = await Stream.ReadAsync(buffer, timeout.Token);
                if (n == 0)
                    return goAway;
                pending.AddRange(buffer.AsSpan(0, n));
                while (true)
                {
                    if (skip > 0)
                    {
                        int s = (int)Math.Min(skip, pending.Count);
                        pending.RemoveRange(0, s);
                        skip -= s;
                        if (skip > 0)
                            break;
                    }
                    if (pending.Count < 12)
                        break;
                    var header = pending.GetRange(0, 12).ToArray();
                    pending.RemoveRange(0, 12);
                    if (header[1] == (byte)YamuxFrameType.GoAway)
                        goAway = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
                    if (header[1] == (byte)YamuxFrameType.Data)
                        skip = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or Libp2pProtocolException)
        {
            return goAway;
        }
    }

    /// <summary>True once the other side has closed the TCP connection (read returns 0 or fails).</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan guard)
    {
        using var timeout = new CancellationTokenSource(guard);
        var buffer = new byte[4096];
        try
        {
            while (await Stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or SocketException or Libp2pProtocolException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync() => await Stream.DisposeAsync();
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Net.Noise;

namespace PeerCompute.NetBench;

/// <summary>
/// Yamux alone over the libp2p transport (TCP loopback + Noise, no multistream, no host): the stream open+close rate.
/// One stream: open (SYN), write 1 byte, half-close (FIN); the other side accepts, reads it, echoes it and half-closes;
/// the opener reads to the end and disposes the stream. One at a time, so each stream costs one round trip.
/// </summary>
internal sealed class YamuxBench : IAsyncDisposable
{
    private readonly YamuxSession _client;
    private readonly YamuxSession _server;
    private readonly Task _serving;

    private YamuxBench(YamuxSession client, YamuxSession server)
    {
        _client = client;
        _server = server;
        _serving = Task.Run(ServeAsync);
    }

    public static async Task<YamuxBench> StartAsync(YamuxOptions options)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var dialer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync();
        await dialer.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await accepting;
        accepted.NoDelay = true;
        string[] muxers = ["/yamux/1.0.0"];
        var outbound = NoiseSecurity.SecureOutboundAsync(new NetworkStream(dialer, ownsSocket: true), PeerIdentity.Generate(), null, muxers, CancellationToken.None);
        var inbound = NoiseSecurity.SecureInboundAsync(new NetworkStream(accepted, ownsSocket: true), PeerIdentity.Generate(), muxers, CancellationToken.None);
        var (o, i) = (await outbound, await inbound);
        return new YamuxBench(YamuxSession.Start(o.Stream, isClient: true, options), YamuxSession.Start(i.Stream, isClient: false, options));
    }

    private async Task ServeAsync()
    {
        while (await _server.AcceptStreamAsync() is { } stream)
            _ = EchoAsync(stream);
    }

    private static async Task EchoAsync(YamuxStream stream)
    {
        await using (stream)
        {
            var buffer = new byte[16];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
                await stream.WriteAsync(buffer.AsMemory(0, n));
            await stream.CompleteWritesAsync();
        }
    }

    /// <summary>Streams per second, <paramref name="count"/> of them one after another.</summary>
    public async Task<double> OpenCloseAsync(int count)
    {
        var one = new byte[1];
        var back = new byte[2];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            await using var stream = await _client.OpenStreamAsync();
            await stream.WriteAsync(one);
            await stream.CompleteWritesAsync();
            int got = 0, n;
            while ((n = await stream.ReadAsync(back)) > 0)
                got += n;
            if (got != 1)
                throw new InvalidOperationException("yamux echo returned the wrong byte count");
        }
        return count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        await _serving;
    }
}

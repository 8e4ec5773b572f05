using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace PeerCompute.Mux.Tests.Yamux;

/// <summary>The tunnel's use: a yamux stream spliced to a TCP socket with CopyToAsync, half-close passed through.</summary>
public class YamuxSpliceTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Test]
    public async Task A_stream_spliced_to_a_tcp_echo_service_carries_bytes_and_half_closes_both_ways()
    {
        // A TCP service on loopback that echoes until EOF, then closes its side.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var service = Task.Run(async () =>
        {
            using var socket = await listener.AcceptAsync();
            await using var tcp = new NetworkStream(socket, ownsSocket: false);
            await tcp.CopyToAsync(tcp);
            socket.Shutdown(SocketShutdown.Send);
        });

        var (a, b) = DuplexPipe.CreatePair();
        await using var gateway = YamuxSession.Start(a, isClient: false);
        await using var provider = YamuxSession.Start(b, isClient: true);

        // Provider side: every accepted stream is spliced to the service.
        var splicing = Task.Run(async () =>
        {
            var stream = (await provider.AcceptStreamAsync())!;
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync((IPEndPoint)listener.LocalEndPoint!);
            await using var tcp = new NetworkStream(socket, ownsSocket: false);
            var up = Task.Run(async () =>
            {
                await stream.CopyToAsync(tcp);
                socket.Shutdown(SocketShutdown.Send);
            });
            var down = Task.Run(async () =>
            {
                await tcp.CopyToAsync(stream);
                await stream.CompleteWritesAsync();
            });
            await Task.WhenAll(up, down);
            await stream.DisposeAsync();
        });

        // Gateway side: a public request becomes a stream.
        var request = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var stream = await gateway.OpenStreamAsync();
        var reading = Task.Run(async () =>
        {
            using var memory = new MemoryStream();
            await stream.CopyToAsync(memory);
            return memory.ToArray();
        });
        await stream.WriteAsync(request);
        await stream.CompleteWritesAsync();
        var response = await reading.WaitAsync(Guard);
        await splicing.WaitAsync(Guard);
        await service.WaitAsync(Guard);

        await Assert.That(Hex.Of(SHA256.HashData(response))).IsEqualTo(Hex.Of(SHA256.HashData(request)));
        await Assert.That(gateway.StreamCount).IsEqualTo(0);
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Testing;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests.Protocol;

/// <summary>
/// The provider's side of one route stream against a real socket "container", with the gateway's side read only after
/// the provider is done: what the gateway then reads must not depend on how quickly it read.
/// </summary>
public sealed class RouteForwarderTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

    [Test]
    [Arguments(true)]
    [Arguments(false)]
    public async Task A_container_that_ends_its_connection_before_answering_is_named_even_when_the_gateway_reads_late(bool reset)
    {
        // Docker's port proxy for a container that does not listen: it accepts, then resets (or closes) the connection.
        await using var forwarded = await ForwardOnceAsync(reset, answer: []);
        var gateway = forwarded.Stream;

        var error = await Assert.ThrowsAsync<IOException>(async () => _ = await gateway.ReadAsync(new byte[64]));

        var reason = error!.InnerException as TunnelException;
        await Assert.That(reason).IsNotNull();
        await Assert.That(reason!.Kind).IsEqualTo(TunnelErrorKind.UpstreamUnavailable).Because(reason.Message);
        await Assert.That(reason.Message).Contains("closed the connection without answering");
    }

    [Test]
    public async Task A_container_that_resets_after_part_of_its_answer_is_a_failed_read_not_a_clean_end()
    {
        byte[] part = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf");
        await using var forwarded = await ForwardOnceAsync(reset: true, answer: part);
        var gateway = forwarded.Stream;

        var received = new MemoryStream();
        var buffer = new byte[4096];
        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            while (true)
            {
                int read = await gateway.ReadAsync(buffer);
                if (read == 0)
                    return;
                received.Write(buffer, 0, read);
            }
        });

        await Assert.That(error).IsNotNull();
        await Assert.That(received.ToArray().Length).IsLessThanOrEqualTo(part.Length);
    }

    /// <summary>
    /// Opens a route stream, sends the route header and a request, lets the provider's forwarder connect to a one-shot
    /// container that sends <paramref name="answer"/> and then ends (RST or FIN), waits until the gateway's session saw the
    /// provider end the stream, and only then hands back the gateway's stream.
    /// </summary>
    private static async Task<Forwarded> ForwardOnceAsync(bool reset, byte[] answer)
    {
        using var container = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        container.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        container.Listen();
        var serving = Task.Run(async () =>
        {
            using var accepted = await container.AcceptAsync();
            byte[] buffer = new byte[Request.Length];
            int got = 0;
            while (got < buffer.Length)
            {
                int read = await accepted.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
                if (read == 0)
                    break;
                got += read;
            }
            if (answer.Length > 0)
                await accepted.SendAsync(answer, SocketFlags.None);
            if (reset)
                accepted.LingerState = new LingerOption(true, 0);
            else
                accepted.Shutdown(SocketShutdown.Both);
            accepted.Close();
        });

        var (a, b) = DuplexPipe.CreatePair();
        var gatewaySession = YamuxSession.Start(a, isClient: false);
        var providerSession = YamuxSession.Start(b, isClient: true);
        string tag = TunnelHostname.TagFor(PeerIdentity.Generate().PeerId);
        string label = TunnelHostname.LabelFor("web", tag);
        var endpoint = (IPEndPoint)container.LocalEndPoint!;
        var forwarder = new RouteForwarder(tag, () => ["web"], (_, _) => ValueTask.FromResult<IPEndPoint?>(endpoint),
            new TunnelClientOptions { GatewayHost = "gateway.test" }, NullLogger.Instance);

        var stream = await gatewaySession.OpenStreamAsync();
        await stream.WriteAsync(RouteHeader.Encode(label));
        await stream.WriteAsync(Request);
        var accepted = await providerSession.AcceptStreamAsync();
        var forwarding = forwarder.ForwardAsync(accepted!, CancellationToken.None);
        await serving.WaitAsync(Guard);
        // The container is gone; wait until the provider's last frame for it (FIN or RST) reached the gateway's side.
        using var deadline = new CancellationTokenSource(Guard);
        while (!stream.IsRemoteClosed && !stream.IsReset)
            await Task.Delay(5, deadline.Token);
        return new Forwarded(new RouteStream(stream, label, Guard, metrics: null), forwarding, gatewaySession, providerSession);
    }

    private sealed record Forwarded(RouteStream Stream, Task Forwarding, YamuxSession Gateway, YamuxSession Provider) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stream.DisposeAsync();
            await Forwarding.WaitAsync(Guard);
            await Gateway.DisposeAsync();
            await Provider.DisposeAsync();
        }
    }
}

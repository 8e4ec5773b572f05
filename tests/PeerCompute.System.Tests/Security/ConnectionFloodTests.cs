using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// Strangers (fresh keys, each from its own 127.0.x.y address) open as many libp2p connections to a real peercomputed
/// as the old limit of 256 allowed in all, complete the handshake and keep them open; the owner can still deploy and
/// get an answer, because strangers can only take the untrusted and handshake slots (issue 15 item 3).
/// </summary>
[NotInParallel("system")]
public class ConnectionFloodTests
{
    private const int Strangers = 256;

    [Test]
    public async Task Strangers_holding_every_connection_they_can_do_not_lock_the_owner_out()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        var sessions = new List<YamuxSession>();
        try
        {
            for (int i = 0; i < Strangers; i++)
            {
                if (await StrangerAsync(daemon.Address, provider.PeerId, new IPAddress([127, 0, (byte)(10 + i / 250), (byte)(1 + i % 250)])) is { } session)
                    sessions.Add(session);
            }

            string deployed = await user.CtlOkAsync("deploy", Deploy.DeployWorkflowTests.TestImage, "--name", "owner", "--port", "8080");
            string status = await user.CtlOkAsync("status");

            await Assert.That(deployed).Contains("owner");
            await Assert.That(status).Contains("owner");
            await Assert.That(daemon.Process.Output).Contains("untrusted peers are open already");
        }
        finally
        {
            foreach (var session in sessions)
                await session.DisposeAsync();
        }
    }

    /// <summary>A stranger's connection through Noise and yamux; null when the provider closed it during the handshake.</summary>
    private static async Task<YamuxSession?> StrangerAsync(string address, string providerId, IPAddress source)
    {
        var target = Core.Multiformats.Multiaddr.Parse(address);
        target.TryGetTcpTarget(out string host, out int port);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(source, 0));
        using var identity = PeerIdentity.Generate();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(host), port, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var (session, _) = await ConnectionUpgrader.UpgradeOutboundAsync(stream, identity, Core.Identity.PeerId.Parse(providerId), new YamuxOptions(), timeout.Token);
            return session;
        }
        catch (Exception e) when (e is IOException or SocketException or Net.Libp2pProtocolException)
        {
            await stream.DisposeAsync();
            return null;
        }
    }
}

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Tests.Support;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Tests.Host;

/// <summary>A second transport plugs in beside TCP without touching it: the host picks the first that handles an address.</summary>
public class TransportSeamTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Test]
    public async Task The_host_dials_through_the_first_transport_that_handles_the_address()
    {
        var (server, address) = await HostTests.StartHost();
        await using var _ = server;
        var port = address.Components.First(c => c.Protocol == MultiaddrProtocol.Tcp).ValueText;
        var redirect = new RedirectingTransport();
        await using var client = new Libp2pHost(PeerIdentity.Generate(), null, null, [redirect, new TcpTransport()]);

        // Nothing listens at 192.0.2.1 (TEST-NET-1): only the redirecting transport can make this dial work.
        var connection = await client.DialAsync(Multiaddr.Parse($"/ip4/192.0.2.1/tcp/{port}/p2p/{server.PeerId}")).WaitAsync(Guard);
        await using var stream = await connection.OpenStreamAsync(EchoProtocol.Id, CancellationToken.None).WaitAsync(Guard);

        await Assert.That(connection.RemotePeer).IsEqualTo(server.PeerId);
        await Assert.That(redirect.Dials).IsEqualTo(1);
    }

    /// <summary>Claims 192.0.2.1 and reaches it on loopback (through TCP underneath, as a relay would through its own hop).</summary>
    private sealed class RedirectingTransport : ITransport
    {
        private readonly TcpTransport _tcp = new();
        private int _dials;

        public int Dials => _dials;

        public bool CanDial(Multiaddr address) => address.TryGetTcpTarget(out string host, out _) && host == "192.0.2.1";

        public bool CanListen(Multiaddr address) => false;

        public Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _dials);
            address.TryGetTcpTarget(out _, out int port);
            return _tcp.DialAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}"), cancellationToken);
        }

        public ITransportListener Listen(Multiaddr address) => throw new NotSupportedException();
    }
}

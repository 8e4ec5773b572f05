using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// The real gateway's libp2p relay: it names itself to providers in the tunnel welcome, and holds reservations only for
/// the providers it accepts tunnels from.
/// </summary>
public class GatewayRelayTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Test]
    public async Task The_tunnel_welcome_names_the_gateways_relay_and_only_an_accepted_provider_may_reserve_on_it()
    {
        using var pki = TestPki.Create();
        using var accepted = PeerIdentity.Generate();
        using var stranger = PeerIdentity.Generate();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--trust-provider", accepted.PeerId.ToString());
        await using var provider = TestProvider.For(gateway, [], identity: Copy(accepted)).Start();
        var id = await TestProcess.RunAsync(GatewayProcess.ExecutablePath, ["id"], new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = gateway.Home }, Guard);

        var status = await provider.WaitForAsync(s => s.State == TunnelState.Connected && s.Relay is not null);
        var relay = status.Relay!;
        var address = relay.Addresses.Single();
        await using var acceptedHost = new Libp2pHost(Copy(accepted));
        await using var strangerHost = new Libp2pHost(Copy(stranger));
        var granted = await ReserveAsync(acceptedHost, address);
        var refused = await ReserveAsync(strangerHost, address);

        await Assert.That(relay.PeerId.ToString()).IsEqualTo(id.StandardOutput.Trim());
        await Assert.That(address.ToString()).IsEqualTo($"/ip4/127.0.0.1/tcp/{gateway.RelayPort}/p2p/{relay.PeerId}");
        await Assert.That(granted.IsReserved).IsTrue();
        await Assert.That(refused.IsReserved).IsFalse();
        await Assert.That(refused.LastError!).Contains("PERMISSION_DENIED");
    }

    [Test]
    public async Task With_relay_port_0_the_welcome_offers_no_relay()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--relay-port", "0");
        await using var provider = TestProvider.For(gateway, []).Start();

        var status = await provider.WaitForAsync(s => s.State == TunnelState.Connected);

        await Assert.That(status.Relay).IsNull();
        await Assert.That(File.Exists(Path.Combine(gateway.Home, "gateway", "relay.key"))).IsFalse();
    }

    /// <summary>Each owner disposes its identity: the provider, the host and the test get copies of one key.</summary>
    private static PeerIdentity Copy(PeerIdentity identity) =>
        PeerIdentity.TryFromPrivateKeyProtobuf(identity.ExportPrivateKeyProtobuf(), out var copy) ? copy : throw new InvalidOperationException("key did not round-trip");

    private static Task<RelayReservationState> ReserveAsync(Libp2pHost host, Multiaddr relay) => host.ListenThroughRelayAsync(relay).WaitAsync(Guard);
}

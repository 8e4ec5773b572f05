using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests;

/// <summary>Both roles of the handshake against each other, and what each does with a peer of another version.</summary>
public class TunnelHandshakeTests
{
    private static readonly byte[] CertificateHash = new byte[32];

    [Test]
    public async Task A_newer_peer_is_served_in_the_highest_version_both_speak()
    {
        var gateway = new TunnelVersions(1, 1);
        var newerProvider = new TunnelVersions(1, 3);

        await Assert.That(gateway.TryAgree(newerProvider.Maximum, out byte agreed)).IsTrue();
        await Assert.That(agreed).IsEqualTo((byte)1);
        await Assert.That(newerProvider.AcceptsAnswer(agreed)).IsTrue();
        await Assert.That(new TunnelVersions(1, 3).TryAgree(2, out byte withOlder)).IsTrue();
        await Assert.That(withOlder).IsEqualTo((byte)2);
    }

    [Test]
    public async Task A_peer_whose_lowest_version_is_above_ours_is_refused()
    {
        await Assert.That(new TunnelVersions(2, 3).TryAgree(1, out _)).IsFalse();
        await Assert.That(new TunnelVersions(2, 3).AcceptsAnswer(1)).IsFalse();
        // A gateway may not answer above what the provider offered.
        await Assert.That(new TunnelVersions(1, 1).AcceptsAnswer(2)).IsFalse();
        await Assert.That(new TunnelVersions(2, 3).ToString()).IsEqualTo("2 to 3");
        await Assert.That(TunnelHandshake.Versions.ToString()).IsEqualTo("1 to 5");
    }

    [Test]
    public async Task Fields_a_later_version_adds_at_the_end_of_a_message_are_ignored()
    {
        byte[] nonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] hello = [.. new ClientHello(2, nonce).Encode().AsSpan(TunnelFrame.HeaderSize), 0xAA, 0xBB];
        byte[] challenge = [.. new Challenge(1, nonce, "pc.localhost", 443).Encode().AsSpan(TunnelFrame.HeaderSize), 0x01];
        byte[] welcome = [.. new Welcome("abcdefghijkl", 16).Encode().AsSpan(TunnelFrame.HeaderSize), 0x00, 0x07];

        await Assert.That(ClientHello.TryParse(hello, out var h)).IsTrue();
        await Assert.That(h!.Version).IsEqualTo((byte)2);
        await Assert.That(Challenge.TryParse(challenge, out var c)).IsTrue();
        await Assert.That(c!.Domain).IsEqualTo("pc.localhost");
        await Assert.That(Welcome.TryParse(welcome, out var w)).IsTrue();
        await Assert.That(w).IsEqualTo(new Welcome("abcdefghijkl", 16));
    }

    [Test]
    public async Task Both_roles_agree_and_the_gateway_learns_who_signed()
    {
        using var identity = PeerIdentity.Generate();
        string tag = TunnelHostname.TagFor(identity.PeerId);

        var (provider, gateway) = await RunBothAsync(identity, tag, TunnelHandshake.Versions, new TunnelVersions(1, 6));

        await Assert.That(provider.Version).IsEqualTo((byte)5);
        await Assert.That(provider.Challenge.Domain).IsEqualTo("pc.localhost");
        await Assert.That(provider.Welcome.Tag).IsEqualTo(tag);
        await Assert.That(gateway.Peer).IsEqualTo(identity.PeerId);
        await Assert.That(gateway.Version).IsEqualTo((byte)5);
    }

    [Test]
    public async Task A_version_2_gateway_offers_its_relay_in_the_welcome_and_a_version_1_gateway_offers_none()
    {
        using var identity = PeerIdentity.Generate();
        using var relayIdentity = PeerIdentity.Generate();
        string tag = TunnelHostname.TagFor(identity.PeerId);
        var offer = new RelayOffer(relayIdentity.PeerId, 4001, [PeerCompute.Core.Multiformats.Multiaddr.Parse("/dns4/relay.example/tcp/4001")]);

        var (current, _) = await RunBothAsync(identity, tag, TunnelHandshake.Versions, TunnelHandshake.Versions, offer);
        var (older, _) = await RunBothAsync(identity, tag, new TunnelVersions(1, 1), TunnelHandshake.Versions, offer);

        await Assert.That(current.Welcome.Relay!.PeerId).IsEqualTo(relayIdentity.PeerId);
        await Assert.That(current.Welcome.Relay.Port).IsEqualTo((ushort)4001);
        await Assert.That(current.Welcome.Relay.AddressesFor("gw.example").Single().ToString()).IsEqualTo($"/dns4/relay.example/tcp/4001/p2p/{relayIdentity.PeerId}");
        await Assert.That(older.Version).IsEqualTo((byte)1);
        await Assert.That(older.Welcome.Relay).IsNull();
    }

    [Test]
    public async Task Without_announced_addresses_the_relay_is_reached_at_the_gateway_host_the_provider_dialled()
    {
        using var relayIdentity = PeerIdentity.Generate();
        var offer = new RelayOffer(relayIdentity.PeerId, 4001, []);

        await Assert.That(offer.AddressesFor("203.0.113.7").Single().ToString()).IsEqualTo($"/ip4/203.0.113.7/tcp/4001/p2p/{relayIdentity.PeerId}");
        await Assert.That(offer.AddressesFor("[2001:db8::7]").Single().ToString()).IsEqualTo($"/ip6/2001:db8::7/tcp/4001/p2p/{relayIdentity.PeerId}");
        await Assert.That(offer.AddressesFor("gw.example.org").Single().ToString()).IsEqualTo($"/dns/gw.example.org/tcp/4001/p2p/{relayIdentity.PeerId}");
    }

    [Test]
    public async Task A_welcome_whose_relay_offer_is_cut_short_or_names_no_peer_is_malformed()
    {
        using var relayIdentity = PeerIdentity.Generate();
        byte[] whole = new Welcome("abcdefghijkl", 16, new RelayOffer(relayIdentity.PeerId, 4001, [])).Encode().AsSpan(TunnelFrame.HeaderSize).ToArray();
        byte[] cut = whole[..^3];
        byte[] noPeer = [.. new Welcome("abcdefghijkl", 16).Encode().AsSpan(TunnelFrame.HeaderSize), 0x01, 0x03, 0xFF, 0xFF, 0xFF, 0x0F, 0xA1, 0x00];

        await Assert.That(Welcome.TryParse(whole, out var parsed)).IsTrue();
        await Assert.That(parsed!.Relay!.PeerId).IsEqualTo(relayIdentity.PeerId);
        await Assert.That(Welcome.TryParse(cut, out _)).IsFalse();
        await Assert.That(Welcome.TryParse(noPeer, out _)).IsFalse();
    }

    [Test]
    public async Task A_gateway_that_no_longer_speaks_the_providers_version_refuses_it_saying_which_it_speaks()
    {
        using var identity = PeerIdentity.Generate();
        string tag = TunnelHostname.TagFor(identity.PeerId);

        var error = await Assert.ThrowsAsync<TunnelException>(async () =>
            await RunBothAsync(identity, tag, gatewayVersions: new TunnelVersions(6, 7), providerVersions: TunnelHandshake.Versions));

        await Assert.That(error!.Kind).IsEqualTo(TunnelErrorKind.Refused);
        await Assert.That(error.Message).Contains("version 6 to 7");
    }

    [Test]
    public async Task A_provider_that_no_longer_speaks_the_gateways_version_stops_saying_which_it_speaks()
    {
        using var identity = PeerIdentity.Generate();
        string tag = TunnelHostname.TagFor(identity.PeerId);

        var error = await Assert.ThrowsAsync<TunnelException>(async () =>
            await RunBothAsync(identity, tag, gatewayVersions: new TunnelVersions(1, 1), providerVersions: new TunnelVersions(2, 2)));

        await Assert.That(error!.Kind).IsEqualTo(TunnelErrorKind.Protocol);
        await Assert.That(error.Message).Contains("version 1, this provider 2");
    }

    /// <summary>Runs the provider's role against the gateway's over a loopback TCP pair (the handshake needs no TLS).</summary>
    private static async Task<(TunnelHandshake.ProviderResult Provider, TunnelHandshake.GatewayResult Gateway)> RunBothAsync(
        PeerIdentity identity, string tag, TunnelVersions gatewayVersions, TunnelVersions providerVersions, RelayOffer? relay = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync(timeout.Token).AsTask();
        await client.ConnectAsync(listener.LocalEndPoint!, timeout.Token);
        using var server = await accept;
        await using var providerStream = new NetworkStream(client);
        await using var gatewayStream = new NetworkStream(server);

        var gatewayRole = TunnelHandshake.RunGatewayAsync(gatewayStream, CertificateHash, "pc.localhost", 443, 16,
            (_, _, _) => ValueTask.FromResult<Refused?>(null), gatewayVersions, timeout.Token, relay);
        try
        {
            var provider = await TunnelHandshake.RunProviderAsync(providerStream, CertificateHash, identity, tag, providerVersions, timeout.Token);
            return (provider, await gatewayRole);
        }
        finally
        {
            client.Close();
            try
            {
                await gatewayRole;
            }
            catch (Exception)
            {
                // The provider's failure is the one under test.
            }
        }
    }
}

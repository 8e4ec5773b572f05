using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Protocol;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>Names cannot be taken over, and bad or slow peers on either port do not disturb the others.</summary>
[ParallelLimiter<ProcessTestsLimit>]
public class GatewayHostileInputTests
{
    [Test]
    public async Task A_second_provider_asking_for_the_first_ones_hostname_is_refused_online_and_offline()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync("owner");
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        var owner = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await owner.WaitReadyAsync();
        string label = owner.Label("web");
        using var thief = PeerIdentity.Generate();
        using var guard = new CancellationTokenSource(TestProvider.Guard);

        var (online, onlineResult) = await RawTunnel.ClaimAsync(gateway.TunnelPort, pki, thief, [label], guard.Token);
        var whileOnline = await Curl.GetAsync(gateway, label);
        await owner.StopAsync();
        await owner.DisposeAsync();
        await gateway.WaitForOutputAsync("disconnected", TestProvider.Guard);
        var (offline, offlineResult) = await RawTunnel.ClaimAsync(gateway.TunnelPort, pki, thief, [label], guard.Token);
        var whileOffline = await Curl.GetAsync(gateway, label);
        await online.DisposeAsync();
        await offline.DisposeAsync();

        await Assert.That(onlineResult.Results.Single().Accepted).IsFalse();
        await Assert.That(onlineResult.Results.Single().Reason).Contains("belongs to another provider");
        await Assert.That(whileOnline.Body).Contains(UpstreamServer.PageMarker + ": owner");
        await Assert.That(offlineResult.Results.Single().Accepted).IsFalse();
        await Assert.That(whileOffline.Status).IsEqualTo(503);
    }

    [Test]
    public async Task A_signature_made_for_another_gateway_certificate_is_refused()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        using var identity = PeerIdentity.Generate();
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        await using var ssl = await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki, cancellationToken: guard.Token);
        byte[] clientNonce = RandomNumberGenerator.GetBytes(32);
        await TunnelMessageIO.WriteAsync(ssl, new ClientHello(1, clientNonce).Encode(), guard.Token);
        var payload = await TunnelMessageIO.ReadExpectedAsync(ssl, TunnelMessageType.Challenge, 4096, guard.Token);
        Challenge.TryParse(payload, out var challenge);
        // What a man in the middle with its own certificate would get the provider to sign.
        byte[] otherCertificateHash = SHA256.HashData(pki.Ca.RawData);
        byte[] transcript = AuthTranscript.Build(clientNonce, challenge!.ServerNonce, otherCertificateHash, challenge.Domain, challenge.HttpsPort);
        await TunnelMessageIO.WriteAsync(ssl, new AuthResponse(identity.PublicKeyProtobuf, identity.Sign(transcript)).Encode(), guard.Token);

        var refusal = await Assert.ThrowsAsync<TunnelException>(async () =>
            await TunnelMessageIO.ReadExpectedAsync(ssl, TunnelMessageType.Welcome, 4096, guard.Token));

        await Assert.That(refusal!.Kind).IsEqualTo(TunnelErrorKind.Refused);
        await Assert.That(refusal.Message).Contains("does not verify");
    }

    [Test]
    public async Task A_provider_of_a_newer_protocol_version_is_answered_in_the_version_the_gateway_speaks()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        await using var ssl = await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki, cancellationToken: guard.Token);

        byte newer = (byte)(TunnelHandshake.Versions.Maximum + 1);
        await TunnelMessageIO.WriteAsync(ssl, new ClientHello(newer, RandomNumberGenerator.GetBytes(32)).Encode(), guard.Token);
        var payload = await TunnelMessageIO.ReadExpectedAsync(ssl, TunnelMessageType.Challenge, 4096, guard.Token);

        await Assert.That(Challenge.TryParse(payload, out var challenge)).IsTrue();
        await Assert.That(challenge!.Version).IsEqualTo(TunnelHandshake.Versions.Maximum);
    }

    [Test]
    public async Task Tls_1_2_is_refused_on_the_tunnel_port()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");

        await Assert.ThrowsAsync<AuthenticationException>(async () =>
            await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki, SslProtocols.Tls12, new CancellationTokenSource(TestProvider.Guard).Token));
        await using var tls13 = await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki);
        await Assert.That(tls13.SslProtocol).IsEqualTo(SslProtocols.Tls13);
    }

    [Test]
    public async Task Garbage_and_half_finished_handshakes_on_the_tunnel_port_do_not_disturb_other_tunnels()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        // All of this comes from 127.0.0.1, like the providers: the per-address handshake cap (tested in
        // GatewayAbuseTests) is raised to the total so what is tested here is that bad handshakes stay harmless.
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open", "--tunnel-handshakes-per-address", "128");
        await using var steady = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        var before = await steady.WaitReadyAsync();
        var endpoint = new IPEndPoint(IPAddress.Loopback, gateway.TunnelPort);
        var idle = new List<Socket>();
        var stuckAfterTls = new List<SslStream>();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                // Plain garbage instead of a TLS hello.
                using var garbage = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await garbage.ConnectAsync(endpoint);
                await garbage.SendAsync(RandomNumberGenerator.GetBytes(512), SocketFlags.None);
                // Connections that never say anything.
                var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await silent.ConnectAsync(endpoint);
                idle.Add(silent);
            }
            for (int i = 0; i < 20; i++)
            {
                // TLS done, then garbage where the tunnel hello should be, or nothing at all.
                var ssl = await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki);
                if (i % 2 == 0)
                {
                    try
                    {
                        await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + new string('A', 70000)));
                    }
                    catch (IOException)
                    {
                        // The gateway hung up on the garbage before it was all written: what it should do.
                    }
                    await ssl.DisposeAsync();
                }
                else
                    stuckAfterTls.Add(ssl);
            }

            var during = await Curl.GetAsync(gateway, steady.Label("web"));
            await using var newcomer = TestProvider.For(gateway, new() { ["other"] = upstream.EndPoint }).Start();
            await newcomer.WaitReadyAsync();
            // Held connections are dropped once the handshake timeout (10 s) passes.
            byte[] one = new byte[1];
            int closedRead = await idle[0].ReceiveAsync(one, SocketFlags.None).WaitAsync(TestProvider.Guard);
            int closedTls = await stuckAfterTls[0].ReadAsync(one).AsTask().WaitAsync(TestProvider.Guard);
            var after = steady.Client.Status;

            await Assert.That(during.Status).IsEqualTo(200);
            await Assert.That(closedRead).IsEqualTo(0);
            await Assert.That(closedTls).IsEqualTo(0);
            await Assert.That(after.ConnectedSince).IsEqualTo(before.ConnectedSince);
            await Assert.That(after.State).IsEqualTo(TunnelState.Connected);
            await Assert.That((await Curl.GetAsync(gateway, steady.Label("web"))).Status).IsEqualTo(200);
        }
        finally
        {
            foreach (var socket in idle)
                socket.Dispose();
            foreach (var ssl in stuckAfterTls)
                await ssl.DisposeAsync();
        }
    }

    [Test]
    public async Task Slow_clients_sending_headers_byte_by_byte_do_not_exhaust_the_gateway_and_are_cut_off()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        await provider.WaitReadyAsync();
        string host = $"{provider.Label("web")}.{gateway.Domain}";
        var slow = new List<SslStream>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort));
                var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    CertificateChainPolicy = GatewayHttp.TrustPolicy(pki),
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                });
                await ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: "));
                slow.Add(ssl);
            }
            foreach (var ssl in slow)
                await ssl.WriteAsync("a"u8.ToArray());

            var during = await Curl.GetAsync(gateway, provider.Label("web"), "/", "--max-time", "5");
            // The request-headers timeout (10 s) ends them all.
            byte[] buffer = new byte[4096];
            var cutOff = await Task.WhenAll(slow.Select(async ssl =>
            {
                try
                {
                    int total = 0, read;
                    while ((read = await ssl.ReadAsync(buffer).AsTask().WaitAsync(TestProvider.Guard)) > 0)
                        total += read;
                    return true;
                }
                catch (IOException)
                {
                    return true;
                }
            }));

            await Assert.That(during.Status).IsEqualTo(200);
            await Assert.That(cutOff.All(c => c)).IsTrue();
            await Assert.That(upstream.Requests).IsEqualTo(1);
        }
        finally
        {
            foreach (var ssl in slow)
                await ssl.DisposeAsync();
        }
    }

    [Test]
    public async Task A_renewed_certificate_is_served_to_new_connections_without_dropping_the_tunnel()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var provider = TestProvider.For(gateway, new() { ["web"] = upstream.EndPoint }).Start();
        var before = await provider.WaitReadyAsync();

        using var renewed = pki.IssueServerCertificate();
        await gateway.WaitForOutputAsync("certificate reloaded", TestProvider.Guard);
        await using var publicTls = await ConnectPublicTlsAsync(gateway);
        await using var tunnelTls = await RawTunnel.ConnectTlsAsync(gateway.TunnelPort, pki);
        var result = await Curl.GetAsync(gateway, provider.Label("web"));

        await Assert.That(new X509Certificate2(publicTls.RemoteCertificate!).Thumbprint).IsEqualTo(renewed.Thumbprint);
        await Assert.That(new X509Certificate2(tunnelTls.RemoteCertificate!).Thumbprint).IsEqualTo(renewed.Thumbprint);
        await Assert.That(result.Status).IsEqualTo(200);
        await Assert.That(provider.Client.Status.ConnectedSince).IsEqualTo(before.ConnectedSince);
    }

    private static async Task<SslStream> ConnectPublicTlsAsync(GatewayProcess gateway)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort));
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "x." + gateway.Domain,
            CertificateChainPolicy = GatewayHttp.TrustPolicy(gateway.Pki),
        });
        return ssl;
    }
}

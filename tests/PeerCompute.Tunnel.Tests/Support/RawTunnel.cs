using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>A hand-driven tunnel client for tests that must say what the real client never says.</summary>
internal static class RawTunnel
{
    public static async Task<SslStream> ConnectTlsAsync(int port, TestPki pki, SslProtocols protocols = SslProtocols.Tls13, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(pki.Ca);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "tunnel." + pki.Domain,
            EnabledSslProtocols = protocols,
            CertificateChainPolicy = policy,
            ApplicationProtocols = [new SslApplicationProtocol(TunnelHandshake.Alpn)],
        }, cancellationToken);
        return ssl;
    }

    /// <summary>Runs the handshake as <paramref name="identity"/>; returns the Welcome (or throws the refusal).</summary>
    public static async Task<(SslStream Ssl, Welcome Welcome)> AuthenticateAsync(int port, TestPki pki, PeerIdentity identity, CancellationToken cancellationToken = default)
    {
        var ssl = await ConnectTlsAsync(port, pki, cancellationToken: cancellationToken);
        byte[] clientNonce = RandomNumberGenerator.GetBytes(TunnelHandshake.NonceLength);
        await TunnelMessageIO.WriteAsync(ssl, new ClientHello(TunnelHandshake.Versions.Maximum, clientNonce).Encode(), cancellationToken);
        var payload = await TunnelMessageIO.ReadExpectedAsync(ssl, TunnelMessageType.Challenge, 4096, cancellationToken);
        Challenge.TryParse(payload, out var challenge);
        using var certificate = new X509Certificate2(ssl.RemoteCertificate!);
        byte[] transcript = AuthTranscript.Build(clientNonce, challenge!.ServerNonce, AuthTranscript.CertificateHash(certificate), challenge.Domain, challenge.HttpsPort);
        await TunnelMessageIO.WriteAsync(ssl, new AuthResponse(identity.PublicKeyProtobuf, identity.Sign(transcript)).Encode(), cancellationToken);
        payload = await TunnelMessageIO.ReadExpectedAsync(ssl, TunnelMessageType.Welcome, 4096, cancellationToken);
        Welcome.TryParse(payload, out var welcome);
        return (ssl, welcome!);
    }

    /// <summary>Authenticates, opens the control stream and asks for <paramref name="labels"/> (any labels at all).</summary>
    public static async Task<(YamuxSession Session, RoutesResult Result)> ClaimAsync(int port, TestPki pki, PeerIdentity identity, IReadOnlyList<string> labels, CancellationToken cancellationToken = default)
    {
        var (ssl, _) = await AuthenticateAsync(port, pki, identity, cancellationToken);
        var session = YamuxSession.Start(ssl, isClient: true);
        var control = await session.OpenStreamAsync(cancellationToken);
        await control.WriteAsync(new SetRoutes(labels).Encode(), cancellationToken);
        var (type, payload) = await TunnelMessageIO.ReadAsync(control, TunnelFrame.MaxPayload, cancellationToken);
        if (type != TunnelMessageType.RoutesResult || !RoutesResult.TryParse(payload, out var result))
            throw new InvalidOperationException($"expected RoutesResult, got {type}");
        return (session, result);
    }
}

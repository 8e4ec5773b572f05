using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>.NET HTTP clients aimed at a gateway on loopback, trusting the test CA, from a chosen 127.x source address.</summary>
internal static class GatewayHttp
{
    public static SocketsHttpHandler Handler(GatewayProcess gateway, IPAddress? source = null) => new()
    {
        UseProxy = false,
        // Many requests at once must all be sent at once, not queued behind one connection's stream limit.
        EnableMultipleHttp2Connections = true,
        ConnectCallback = async (_, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (source is not null)
                    socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = TrustPolicy(gateway.Pki) },
    };

    public static HttpClient Client(GatewayProcess gateway, IPAddress? source = null, Version? version = null) =>
        new(Handler(gateway, source))
        {
            DefaultRequestVersion = version ?? HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(60),
        };

    public static X509ChainPolicy TrustPolicy(TestPki pki)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(pki.Ca);
        return policy;
    }
}

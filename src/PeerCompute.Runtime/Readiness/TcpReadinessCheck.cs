using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Runtime.Readiness;

/// <summary>Ready once a TCP connection to the endpoint is accepted.</summary>
/// <remarks>
/// Aimed at the container's own bridge address, not at its published loopback port: the engine's userland proxy
/// accepts on the published port whether or not anything listens inside the container.
/// </remarks>
public sealed class TcpReadinessCheck : IReadinessCheck
{
    public static TcpReadinessCheck Instance { get; } = new();

    public string Describe(int port) => $"port {port}";

    public async ValueTask<bool> AnswersAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

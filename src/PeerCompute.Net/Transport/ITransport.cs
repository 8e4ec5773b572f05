using System.Net;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Net.Transport;

/// <summary>
/// A way to reach peers: it listens on and dials the multiaddrs it handles and hands back raw byte streams, before the
/// security and muxer upgrade (multistream, Noise, yamux), which the host applies the same way to every transport.
/// TCP is the first (<see cref="TcpTransport"/>); a relayed one plugs in beside it without touching it.
/// </summary>
internal interface ITransport
{
    /// <summary>This transport can dial <paramref name="address"/> (which may end in <c>/p2p/…</c>).</summary>
    bool CanDial(Multiaddr address);

    /// <summary>This transport can listen on <paramref name="address"/>.</summary>
    bool CanListen(Multiaddr address);

    /// <summary>Connects; the stream is owned by the caller. Disposes whatever it opened when it fails or is cancelled.</summary>
    Task<TransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken);

    /// <summary>
    /// Starts listening, synchronously on the calling thread (so a caller that entered a network namespace on that
    /// thread gets a socket inside it).
    /// </summary>
    ITransportListener Listen(Multiaddr address);
}

/// <summary>A bound listener of one <see cref="ITransport"/>; disposing it stops accepting.</summary>
internal interface ITransportListener : IAsyncDisposable
{
    /// <summary>The address actually bound (port 0 resolved).</summary>
    Multiaddr Address { get; }

    /// <summary>The addresses peers can reach it on: wildcards expanded to this machine's interface addresses.</summary>
    IReadOnlyList<Multiaddr> ReachableAddresses { get; }

    /// <summary>The next inbound connection; throws <see cref="ObjectDisposedException"/> or <see cref="OperationCanceledException"/> once stopped.</summary>
    ValueTask<TransportConnection> AcceptAsync(CancellationToken cancellationToken);
}

/// <summary>A raw connection from a transport, not yet upgraded. Owns <see cref="Stream"/>.</summary>
/// <param name="RemoteEndPoint">The socket-level peer, where there is one (for logs).</param>
internal sealed record TransportConnection(Stream Stream, Multiaddr RemoteAddress, Multiaddr LocalAddress, EndPoint? RemoteEndPoint) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}

using PeerCompute.Core.Identity;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>A negotiated stream: the byte stream, the protocol agreed on it and the connection it belongs to.</summary>
public sealed class Libp2pStream : IAsyncDisposable
{
    internal Libp2pStream(YamuxStream stream, string protocol, Libp2pConnection connection)
    {
        Stream = stream;
        Protocol = protocol;
        Connection = connection;
    }

    public YamuxStream Stream { get; }

    public string Protocol { get; }

    public Libp2pConnection Connection { get; }

    public PeerId RemotePeer => Connection.RemotePeer;

    /// <summary>Half-closes our side (FIN) and stops reading.</summary>
    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}

/// <summary>Handles an inbound stream whose protocol was negotiated. The host disposes the stream when it returns and resets it when it throws.</summary>
public delegate Task Libp2pStreamHandler(Libp2pStream stream, CancellationToken cancellationToken);

using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Protocols;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>An upgraded connection to one authenticated peer (a transport's raw stream + Noise + yamux).</summary>
public sealed class Libp2pConnection : IAsyncDisposable
{
    private readonly TaskCompletionSource<IdentifyMessage> _identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _negotiationTimeout;

    internal Libp2pConnection(YamuxSession session, PeerId remotePeer, Multiaddr remoteAddress, Multiaddr localAddress, bool isOutbound, TimeSpan negotiationTimeout)
    {
        Session = session;
        RemotePeer = remotePeer;
        RemoteAddress = remoteAddress;
        LocalAddress = localAddress;
        IsOutbound = isOutbound;
        _negotiationTimeout = negotiationTimeout;
    }

    public PeerId RemotePeer { get; }

    /// <summary>The peer's transport address (without <c>/p2p/</c>).</summary>
    public Multiaddr RemoteAddress { get; }

    public Multiaddr LocalAddress { get; }

    /// <summary>True when this side dialled.</summary>
    public bool IsOutbound { get; }

    public YamuxSession Session { get; }

    public bool IsClosed => Session.IsClosed;

    /// <summary>Completes when the connection has ended.</summary>
    public Task Closed => Session.Completion;

    /// <summary>The peer's identify answer, once received (faults when identify failed).</summary>
    public Task<IdentifyMessage> Identified => _identified.Task;

    public IdentifyMessage? RemoteIdentify => _identified.Task.IsCompletedSuccessfully ? _identified.Task.Result : null;

    /// <summary>Opens a stream and negotiates the first of <paramref name="protocols"/> the peer supports.</summary>
    public async Task<Libp2pStream> OpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        var stream = await Session.OpenStreamAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_negotiationTimeout);
            var protocol = await MultistreamSelect.SelectAsync(stream, protocols, timeout.Token).ConfigureAwait(false);
            return new Libp2pStream(stream, protocol, this);
        }
        catch
        {
            stream.Reset();
            throw;
        }
    }

    public Task<Libp2pStream> OpenStreamAsync(string protocol, CancellationToken cancellationToken) =>
        OpenStreamAsync([protocol], cancellationToken);

    internal void SetIdentify(IdentifyMessage message) => _identified.TrySetResult(message);

    internal void SetIdentifyFailed(Exception error)
    {
        _identified.TrySetException(error);
        _ = _identified.Task.Exception; // observed: nobody has to await it
    }

    public ValueTask DisposeAsync() => Session.DisposeAsync();

    public override string ToString() => $"{(IsOutbound ? "to" : "from")} {RemoteAddress}/p2p/{RemotePeer}";
}

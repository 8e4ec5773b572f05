using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Protocols;
using PeerCompute.Net.Relay;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>An upgraded connection to one authenticated peer (a transport's raw stream + Noise + yamux).</summary>
public sealed class Libp2pConnection : IAsyncDisposable
{
    private readonly TaskCompletionSource<IdentifyMessage> _identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _negotiationTimeout;
    private long _lastActive = Environment.TickCount64;
    private int _keptOpen;

    internal Libp2pConnection(YamuxSession session, PeerId remotePeer, Multiaddr remoteAddress, Multiaddr localAddress, bool isOutbound, TimeSpan negotiationTimeout,
        RelayedStream? relayed = null)
    {
        Relayed = relayed;
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

    /// <summary>The circuit under this connection when it runs through a relay; null for a direct one.</summary>
    public RelayedStream? Relayed { get; }

    /// <summary>True when the connection runs through a relay (its remote address has <c>/p2p-circuit</c>).</summary>
    public bool IsRelayed => Relayed is not null || RemoteAddress.IsRelayed;

    /// <summary>True when this direct connection was made by hole punching (DCUtR) over a relayed one.</summary>
    public bool HolePunched { get; internal init; }

    /// <summary>True when this side dialled.</summary>
    public bool IsOutbound { get; }

    public YamuxSession Session { get; }

    public bool IsClosed => Session.IsClosed;

    /// <summary>True when the host closed this (an untrusted peer's) connection because no stream was open on it for the idle timeout.</summary>
    public bool ClosedForIdleness { get; internal set; }

    /// <summary>Completes when the connection has ended.</summary>
    public Task Closed => Session.Completion;

    /// <summary>The peer's identify answer, once received (faults when identify failed).</summary>
    public Task<IdentifyMessage> Identified => _identified.Task;

    public IdentifyMessage? RemoteIdentify => _identified.Task.IsCompletedSuccessfully ? _identified.Task.Result : null;

    /// <summary>Opens a stream and negotiates the first of <paramref name="protocols"/> the peer supports.</summary>
    public async Task<Libp2pStream> OpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        var stream = await Session.OpenStreamAsync(cancellationToken).ConfigureAwait(false);
        MarkActive();
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

    /// <summary>A stream was opened (either way) or seen open: the connection is in use now.</summary>
    internal void MarkActive() => Volatile.Write(ref _lastActive, Environment.TickCount64);

    /// <summary>
    /// Keeps the connection from counting as idle until the result is disposed (a relay does this for a peer's
    /// reservation, whose connection carries no stream between circuits).
    /// </summary>
    internal IDisposable KeepOpen()
    {
        Interlocked.Increment(ref _keptOpen);
        return new KeptOpen(this);
    }

    /// <summary>How long no stream has been open, as far as the last <see cref="MarkActive"/> shows; zero while one is.</summary>
    internal TimeSpan IdleFor()
    {
        if (Session.StreamCount > 0 || Volatile.Read(ref _keptOpen) > 0)
        {
            MarkActive();
            return TimeSpan.Zero;
        }
        return TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastActive));
    }

    internal void SetIdentify(IdentifyMessage message) => _identified.TrySetResult(message);

    internal void SetIdentifyFailed(Exception error)
    {
        _identified.TrySetException(error);
        _ = _identified.Task.Exception; // observed: nobody has to await it
    }

    public ValueTask DisposeAsync() => Session.DisposeAsync();

    private sealed class KeptOpen(Libp2pConnection connection) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref connection._keptOpen);
                connection.MarkActive();
            }
        }
    }

    public override string ToString() => $"{(IsOutbound ? "to" : "from")} {RemoteAddress}/p2p/{RemotePeer}";
}

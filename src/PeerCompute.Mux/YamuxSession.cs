using System.Diagnostics;
using System.Threading.Channels;

namespace PeerCompute.Mux;

/// <summary>
/// A yamux session over any duplex byte <see cref="Stream"/> (a Noise channel, an SslStream, a pipe).
/// One read loop parses frames and feeds streams; one write loop sends queued frames, header-only control
/// frames ahead of data, and flushes once per batch. Any protocol violation sends GoAway(protocol error)
/// and ends the session; every stream then fails with <see cref="IOException"/>.
/// </summary>
/// <remarks>
/// Split by concern: this file holds the public surface and the stream table; <c>YamuxSession.Dispatch.cs</c> the read
/// loop and frame dispatch; <c>YamuxSession.Close.cs</c> GoAway and the end of the session; <see cref="YamuxFrameWriter"/>
/// the write loop; <see cref="YamuxKeepAlive"/> pings and dead-link detection.
/// </remarks>
public sealed partial class YamuxSession : IAsyncDisposable
{
    private readonly Stream _transport;
    private readonly Lock _streamsLock = new();
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Dictionary<uint, long> _unacknowledged = [];
    private readonly Channel<YamuxStream> _accepted;
    private readonly YamuxFrameWriter _writer;
    private readonly YamuxKeepAlive _keepAlive;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Task _housekeeping = Task.CompletedTask;

    private long _windowGrowth;      // the part of _receiveReserved beyond the streams' initial windows
    private long _receiveReserved;   // the receive windows of all open streams together (≤ the receive budget)
    private uint _nextStreamId;
    private bool _localGoAway;
    private bool _remoteGoAway;
    private bool _closed;
    private Exception? _error;

    private YamuxSession(Stream transport, bool isClient, YamuxOptions options)
    {
        options.Validate();
        _transport = transport;
        IsClient = isClient;
        Options = options;
        _nextStreamId = isClient ? 1u : 2u;
        _accepted = Channel.CreateBounded<YamuxStream>(new BoundedChannelOptions(options.AcceptBacklog)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = new YamuxFrameWriter(transport, options.MaxPendingControlFrames, options.WriteTimeout, Close);
        _keepAlive = new YamuxKeepAlive(this);
    }

    /// <summary>
    /// Starts a session. The client (the side that dialled) opens odd stream ids and pings at once;
    /// the server opens even ids. The session owns <paramref name="transport"/> and disposes it when it ends.
    /// </summary>
    public static YamuxSession Start(Stream transport, bool isClient, YamuxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var session = new YamuxSession(transport, isClient, options ?? new YamuxOptions());
        var closing = session._closing.Token;
        session._readLoop = Task.Run(session.ReadLoopAsync);
        session._writeLoop = Task.Run(() => session._writer.RunAsync(closing));
        session._keepAlive.Start();
        session._housekeeping = Task.Run(() => session._keepAlive.RunAsync(closing));
        return session;
    }

    /// <summary>Starts a session over a duplex pipe (completed when the session ends).</summary>
    public static YamuxSession Start(System.IO.Pipelines.IDuplexPipe transport, bool isClient, YamuxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        return Start(new DuplexPipeStream(transport), isClient, options);
    }

    public bool IsClient { get; }

    public YamuxOptions Options { get; }

    /// <summary>Completes when the session has ended, for whatever reason.</summary>
    public Task Completion => _completion.Task;

    public bool IsClosed { get { lock (_streamsLock) return _closed; } }

    /// <summary>Why the session ended: null for a clean end (EOF, GoAway, dispose), else the violation or I/O error.</summary>
    public Exception? Error { get { lock (_streamsLock) return _error; } }

    /// <summary>The peer sent GoAway: no new streams may be opened.</summary>
    public bool IsGoingAway { get { lock (_streamsLock) return _remoteGoAway || _localGoAway; } }

    public int StreamCount { get { lock (_streamsLock) return _streams.Count; } }

    /// <summary>Receive window the open streams hold together (at most <see cref="YamuxOptions.EffectiveReceiveBudget"/>).</summary>
    public long ReceiveWindowReserved { get { lock (_streamsLock) return _receiveReserved; } }

    /// <summary>
    /// Opens a stream at once (SYN is queued; data may follow before the peer acknowledges). Fails with
    /// <see cref="YamuxStreamLimitException"/> when <see cref="YamuxOptions.MaxStreams"/> are open or the receive budget
    /// has no room for one more initial window.
    /// </summary>
    public ValueTask<YamuxStream> OpenStreamAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        YamuxStream stream;
        lock (_streamsLock)
        {
            if (_closed)
                throw new IOException("yamux: session closed", _error);
            if (_remoteGoAway || _localGoAway)
                throw new IOException("yamux: session is going away");
            if (_streams.Count >= Options.MaxStreams)
                throw new YamuxStreamLimitException($"yamux: at most {Options.MaxStreams} streams may be open at once");
            if (!HasRoomForStreamLocked())
                throw new YamuxStreamLimitException($"yamux: the session's receive budget ({Options.EffectiveReceiveBudget / 1024} KiB) is taken by the {_streams.Count} open streams");
            if (_nextStreamId > uint.MaxValue - 2)
                throw new IOException("yamux: stream ids exhausted");
            uint id = _nextStreamId;
            _nextStreamId += 2;
            stream = new YamuxStream(this, id, outbound: true, Options);
            _streams.Add(id, stream);
            _receiveReserved += YamuxOptions.InitialWindow;
            _unacknowledged.Add(id, Stopwatch.GetTimestamp());
        }
        EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, stream.Id, 0);
        return ValueTask.FromResult(stream);
    }

    /// <summary>Waits for the next stream the peer opened and acknowledges it; null once the session has ended.</summary>
    public async ValueTask<YamuxStream?> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_accepted.Reader.TryRead(out var stream))
            {
                EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, stream.Id, 0);
                return stream;
            }
        }
        return null;
    }

    /// <summary>Sends a Ping and waits for its ACK; returns the round-trip time.</summary>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default) => _keepAlive.PingAsync(cancellationToken);

    // ---- used by YamuxStream, the writer and the keep-alive ----

    internal void EnqueueControl(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        if (!_writer.TryEnqueueControl(new YamuxFrameHeader(type, flags, streamId, length)))
            Close(new MuxProtocolException("yamux: the peer is not reading (too many control frames queued)"));
    }

    internal void EnqueueFin(uint streamId) => _writer.EnqueueFin(streamId);

    internal ValueTask WriteDataAsync(YamuxStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _writer.WriteDataAsync(stream, data, cancellationToken);

    /// <summary>A new stream's initial window fits in the receive budget (callers hold the streams lock).</summary>
    private bool HasRoomForStreamLocked() => _receiveReserved + YamuxOptions.InitialWindow <= Options.EffectiveReceiveBudget;

    /// <summary>What growth must leave free of the receive budget for new streams; below it grown windows shrink.</summary>
    private long GrowthHeadroom => Math.Max(YamuxOptions.InitialWindow, Options.EffectiveReceiveBudget / 8);

    /// <summary>
    /// Takes up to <paramref name="wanted"/> bytes of window growth from the session budget, leaving
    /// <see cref="GrowthHeadroom"/> free for new streams.
    /// </summary>
    internal long ReserveWindowGrowth(long wanted)
    {
        lock (_streamsLock)
        {
            long free = Options.EffectiveReceiveBudget - GrowthHeadroom - _receiveReserved;
            long granted = Math.Min(wanted, Math.Min(Options.SessionWindowGrowthBudget - _windowGrowth, free));
            if (granted <= 0)
                return 0;
            _windowGrowth += granted;
            _receiveReserved += granted;
            return granted;
        }
    }

    /// <summary>
    /// How much of <paramref name="grown"/> (a stream's window beyond 256 KiB) it should give back now: all of it while
    /// less than <see cref="GrowthHeadroom"/> of the budget is free, so new streams find room; nothing otherwise.
    /// </summary>
    internal long WindowShrinkWanted(long grown)
    {
        if (grown <= 0)
            return 0;
        lock (_streamsLock)
            return Options.EffectiveReceiveBudget - _receiveReserved < GrowthHeadroom ? grown : 0;
    }

    /// <summary>Gives back <paramref name="shrunk"/> bytes of a stream's grown window to the budget.</summary>
    internal void ReleaseWindowGrowth(long shrunk)
    {
        lock (_streamsLock)
        {
            _windowGrowth -= shrunk;
            _receiveReserved -= shrunk;
        }
    }

    /// <summary>Forgets a stream and gives its whole receive window (<paramref name="window"/>) back to the budget.</summary>
    internal void RemoveStream(YamuxStream stream, long window)
    {
        lock (_streamsLock)
        {
            _windowGrowth -= window - YamuxOptions.InitialWindow;
            _receiveReserved -= window;
            if (_streams.TryGetValue(stream.Id, out var current) && current == stream)
            {
                _streams.Remove(stream.Id);
                _unacknowledged.Remove(stream.Id);
            }
            if (_streams.Count == 0 && _localGoAway)
                _drained.TrySetResult();
        }
    }

    /// <summary>Resets the streams we opened that the peer has not acknowledged within <see cref="YamuxOptions.OpenTimeout"/>.</summary>
    internal void ResetUnacknowledgedStreams(long now)
    {
        List<YamuxStream>? expired = null;
        lock (_streamsLock)
        {
            foreach (var (id, opened) in _unacknowledged)
            {
                if (Stopwatch.GetElapsedTime(opened, now) > Options.OpenTimeout && _streams.TryGetValue(id, out var s))
                    (expired ??= []).Add(s);
            }
            if (expired is not null)
                foreach (var s in expired)
                    _unacknowledged.Remove(s.Id);
        }
        if (expired is not null)
            foreach (var s in expired)
                s.Reset();
    }
}

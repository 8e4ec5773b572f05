using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;

namespace PeerCompute.Mux;

/// <summary>
/// A yamux session over any duplex byte <see cref="Stream"/> (a Noise channel, an SslStream, a pipe).
/// One read loop parses frames and feeds streams; one write loop sends queued frames, header-only control
/// frames ahead of data, and flushes once per batch. Any protocol violation sends GoAway(protocol error)
/// and ends the session; every stream then fails with <see cref="IOException"/>.
/// </summary>
public sealed class YamuxSession : IAsyncDisposable
{
    private const int MaxOutstandingPings = 16;
    private const int WriteBufferSize = 64 * 1024;
    private const int CopyThreshold = 16 * 1024;
    private static readonly TimeSpan GoAwayFlushTimeout = TimeSpan.FromSeconds(2);

    private readonly Stream _transport;
    private readonly Lock _streamsLock = new();
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Dictionary<uint, long> _unacknowledged = [];
    private readonly Channel<YamuxStream> _accepted;
    private readonly Lock _writeLock = new();
    private readonly Queue<YamuxFrameHeader> _control = new();
    private readonly Queue<PendingWrite> _data = new();
    private readonly AsyncSignal _writeSignal = new();
    private readonly Dictionary<uint, PingWaiter?> _pings = [];
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Task _housekeeping = Task.CompletedTask;

    private long _windowGrowth;
    private uint _nextStreamId;
    private uint _nextPingValue;
    private long _lastReceived;
    private bool _localGoAway;
    private bool _remoteGoAway;
    private bool _closed;
    private bool _closeAfterFlush;
    private Exception? _closeAfterFlushError;
    private Exception? _error;

    private YamuxSession(Stream transport, bool isClient, YamuxOptions options)
    {
        options.Validate();
        _transport = transport;
        IsClient = isClient;
        Options = options;
        _nextStreamId = isClient ? 1u : 2u;
        _lastReceived = Stopwatch.GetTimestamp();
        _accepted = Channel.CreateBounded<YamuxStream>(new BoundedChannelOptions(options.AcceptBacklog)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>
    /// Starts a session. The client (the side that dialled) opens odd stream ids and pings at once;
    /// the server opens even ids. The session owns <paramref name="transport"/> and disposes it when it ends.
    /// </summary>
    public static YamuxSession Start(Stream transport, bool isClient, YamuxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var session = new YamuxSession(transport, isClient, options ?? new YamuxOptions());
        session._readLoop = Task.Run(session.ReadLoopAsync);
        session._writeLoop = Task.Run(session.WriteLoopAsync);
        if (isClient && session.Options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
            session.SendPing(out _, null);
        session._housekeeping = Task.Run(session.HousekeepingAsync);
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

    /// <summary>Opens a stream at once (SYN is queued; data may follow before the peer acknowledges).</summary>
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
                throw new IOException($"yamux: at most {Options.MaxStreams} streams may be open at once");
            if (_nextStreamId > uint.MaxValue - 2)
                throw new IOException("yamux: stream ids exhausted");
            uint id = _nextStreamId;
            _nextStreamId += 2;
            stream = new YamuxStream(this, id, outbound: true, Options);
            _streams.Add(id, stream);
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
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var waiter = new PingWaiter();
        if (!SendPing(out uint value, waiter))
            throw new IOException("yamux: too many pings outstanding or session closed");
        try
        {
            return await waiter.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Keep the value registered without a waiter, so a late ACK is not "unsolicited".
            lock (_pings)
                if (_pings.ContainsKey(value))
                    _pings[value] = null;
            throw;
        }
    }

    /// <summary>
    /// Graceful end: sends GoAway(normal), refuses new streams from the peer, waits until every open stream has
    /// finished (or <paramref name="cancellationToken"/> fires), then closes the transport.
    /// </summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        bool sendGoAway;
        lock (_streamsLock)
        {
            sendGoAway = !_localGoAway && !_closed;
            _localGoAway = true;
            if (_streams.Count == 0)
                _drained.TrySetResult();
        }
        if (sendGoAway)
            EnqueueControl(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.Normal);
        try
        {
            await Task.WhenAny(_drained.Task, _completion.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
            await FlushThenCloseAsync(null).ConfigureAwait(false);
        }
        finally
        {
            Close(null);
        }
    }

    /// <summary>Ends the session now: sends GoAway (best effort, briefly) and fails every open stream.</summary>
    public async ValueTask DisposeAsync()
    {
        bool sendGoAway;
        lock (_streamsLock)
        {
            sendGoAway = !_localGoAway && !_closed;
            _localGoAway = true;
        }
        if (sendGoAway)
            EnqueueControl(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.Normal);
        await FlushThenCloseAsync(null).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_readLoop, _writeLoop, _housekeeping).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops record their errors in Error; disposal does not rethrow them.
        }
        _closing.Dispose();
    }

    // ---- used by YamuxStream ----

    internal void EnqueueControl(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        bool overflow = false;
        lock (_writeLock)
        {
            if (_closed)
                return;
            if (_control.Count >= Options.MaxPendingControlFrames)
                overflow = true;
            else
                _control.Enqueue(new YamuxFrameHeader(type, flags, streamId, length));
        }
        if (overflow)
            Close(new MuxProtocolException("yamux: the peer is not reading (too many control frames queued)"));
        else
            _writeSignal.Set();
    }

    internal async ValueTask WriteDataAsync(YamuxStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var write = new PendingWrite(new YamuxFrameHeader(YamuxFrameType.Data, YamuxFlags.None, stream.Id, (uint)data.Length), data);
        lock (_writeLock)
        {
            if (_closed)
                throw new IOException("yamux: session closed", _error);
            _data.Enqueue(write);
        }
        _writeSignal.Set();
        if (!cancellationToken.CanBeCanceled)
        {
            await write.Done.Task.ConfigureAwait(false);
            return;
        }
        try
        {
            await write.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            bool inFlight;
            lock (_writeLock)
            {
                inFlight = write.State != PendingWrite.Queued;
                write.State = PendingWrite.Cancelled;
            }
            // The caller's memory must not be touched after we return: wait for a write already under way.
            if (inFlight)
                await write.Done.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            // Part of the data may be missing now: the stream cannot go on.
            stream.Reset();
            throw;
        }
    }

    /// <summary>Takes up to <paramref name="wanted"/> bytes of window growth from the session budget.</summary>
    internal long ReserveWindowGrowth(long wanted)
    {
        lock (_streamsLock)
        {
            long granted = Math.Min(wanted, Options.SessionWindowGrowthBudget - _windowGrowth);
            if (granted <= 0)
                return 0;
            _windowGrowth += granted;
            return granted;
        }
    }

    internal void RemoveStream(YamuxStream stream, long windowGrowth = 0)
    {
        lock (_streamsLock)
        {
            _windowGrowth -= windowGrowth;
            if (_streams.TryGetValue(stream.Id, out var current) && current == stream)
            {
                _streams.Remove(stream.Id);
                _unacknowledged.Remove(stream.Id);
            }
            if (_streams.Count == 0 && _localGoAway)
                _drained.TrySetResult();
        }
    }

    // ---- loops ----

    private async Task ReadLoopAsync()
    {
        // The buffer is given back whenever it is empty and the loop waits with a zero-byte read, so an idle
        // session holds no read buffer.
        byte[]? buffer = null;
        int start = 0, end = 0;
        YamuxStream? bodyStream = null;
        long bodyRemaining = 0;
        YamuxFlags bodyFlags = YamuxFlags.None;
        Exception? error = null;
        try
        {
            while (true)
            {
                while (true)
                {
                    if (bodyRemaining > 0)
                    {
                        int n = (int)Math.Min(bodyRemaining, end - start);
                        if (n == 0)
                            break;
                        bodyStream?.OnData(buffer.AsSpan(start, n));
                        start += n;
                        bodyRemaining -= n;
                        if (bodyRemaining == 0 && bodyStream is not null)
                        {
                            ApplyCloseFlags(bodyStream, bodyFlags);
                            bodyStream = null;
                        }
                        continue;
                    }
                    var status = YamuxFrameHeader.TryRead(buffer.AsSpan(start, end - start), out var header, out int consumed, out string? invalid);
                    if (status == OperationStatus.NeedMoreData)
                        break;
                    if (status == OperationStatus.InvalidData)
                        throw new MuxProtocolException(invalid!);
                    start += consumed;
                    var stream = HandleHeader(header);
                    if (header.Type == YamuxFrameType.Data)
                    {
                        bodyStream = stream;
                        bodyRemaining = header.Length;
                        bodyFlags = header.Flags;
                        if (bodyRemaining == 0 && stream is not null)
                        {
                            ApplyCloseFlags(stream, header.Flags);
                            bodyStream = null;
                        }
                    }
                }
                if (start == end)
                {
                    start = end = 0;
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }
                    await _transport.ReadAsync(Memory<byte>.Empty, _closing.Token).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(Options.ReadBufferSize);
                }
                else if (start > 0)
                {
                    // Only a partial header can be left here (bodies are handed on as they arrive).
                    buffer!.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }
                int read = await _transport.ReadAsync(buffer!.AsMemory(end), _closing.Token).ConfigureAwait(false);
                if (read == 0)
                    break;
                end += read;
                Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());
            }
        }
        catch (MuxProtocolException e)
        {
            error = e;
            EnqueueControl(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.ProtocolError);
            await FlushThenCloseAsync(e).ConfigureAwait(false);
        }
        catch (PeerGoneException e)
        {
            error = e;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            error = IsClosed ? null : e;
        }
        catch (Exception e)
        {
            // Anything else (a crypto failure below us, a bug) still ends the session cleanly.
            error = e;
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
        Close(error);
    }

    private YamuxStream? HandleHeader(YamuxFrameHeader header)
    {
        switch (header.Type)
        {
            case YamuxFrameType.Ping:
                if (header.Flags == YamuxFlags.Syn)
                {
                    EnqueueControl(YamuxFrameType.Ping, YamuxFlags.Ack, 0, header.Length);
                }
                else
                {
                    PingWaiter? waiter;
                    lock (_pings)
                    {
                        if (!_pings.Remove(header.Length, out waiter))
                            throw new MuxProtocolException($"yamux: unsolicited ping ACK {header.Length}");
                    }
                    waiter?.Done.TrySetResult(Stopwatch.GetElapsedTime(waiter.Sent));
                }
                return null;
            case YamuxFrameType.GoAway:
                lock (_streamsLock)
                    _remoteGoAway = true;
                if (header.Length != (uint)YamuxGoAwayCode.Normal)
                    throw new PeerGoneException(header.Length);
                return null;
        }

        YamuxStream? stream;
        if ((header.Flags & YamuxFlags.Syn) != 0)
        {
            stream = AcceptIncoming(header.StreamId);
            if (stream is null)
                return null;
        }
        else
        {
            lock (_streamsLock)
                _streams.TryGetValue(header.StreamId, out stream);
            // Frames for streams that are gone (closed or reset here) are dropped.
            if (stream is null)
                return null;
        }
        if ((header.Flags & YamuxFlags.Ack) != 0)
        {
            lock (_streamsLock)
                _unacknowledged.Remove(header.StreamId);
        }
        if (header.Type == YamuxFrameType.WindowUpdate)
        {
            stream.OnWindowUpdate(header.Length);
            ApplyCloseFlags(stream, header.Flags);
        }
        else
        {
            stream.OnDataHeader(header.Length);
        }
        return stream;
    }

    private YamuxStream? AcceptIncoming(uint id)
    {
        bool remoteIsClient = !IsClient;
        if ((id % 2 == 1) != remoteIsClient)
            throw new MuxProtocolException($"yamux: the peer opened stream {id}, an id of the wrong parity");
        YamuxStream stream;
        lock (_streamsLock)
        {
            if (_streams.ContainsKey(id))
                throw new MuxProtocolException($"yamux: the peer opened stream {id} twice");
            if (_localGoAway || _closed || _streams.Count >= Options.MaxStreams)
            {
                stream = null!;
            }
            else
            {
                stream = new YamuxStream(this, id, outbound: false, Options);
                _streams.Add(id, stream);
            }
        }
        if (stream is null || !_accepted.Writer.TryWrite(stream))
        {
            if (stream is not null)
                RemoveStream(stream, 0);
            EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, id, 0);
            return null;
        }
        return stream;
    }

    private static void ApplyCloseFlags(YamuxStream stream, YamuxFlags flags)
    {
        if ((flags & YamuxFlags.Rst) != 0)
            stream.OnRemoteReset();
        else if ((flags & YamuxFlags.Fin) != 0)
            stream.OnRemoteFin();
    }

    private async Task WriteLoopAsync()
    {
        byte[]? buffer = null; // rented while there is something to send
        int used = 0;
        PendingWrite? current = null;
        try
        {
            while (true)
            {
                await _writeSignal.WaitAsync(_closing.Token).ConfigureAwait(false);
                buffer ??= ArrayPool<byte>.Shared.Rent(WriteBufferSize);
                while (true)
                {
                    bool wroteControl = false;
                    current = null;
                    lock (_writeLock)
                    {
                        while (_control.Count > 0 && used + YamuxFrameHeader.Size <= buffer.Length)
                        {
                            _control.Dequeue().Write(buffer.AsSpan(used));
                            used += YamuxFrameHeader.Size;
                            wroteControl = true;
                        }
                        if (!wroteControl)
                        {
                            while (_data.TryDequeue(out var next))
                            {
                                if (next.State == PendingWrite.Cancelled)
                                    continue;
                                next.State = PendingWrite.Writing;
                                current = next;
                                break;
                            }
                        }
                    }
                    if (wroteControl)
                    {
                        if (used + YamuxFrameHeader.Size > buffer.Length)
                        {
                            await _transport.WriteAsync(buffer.AsMemory(0, used), _closing.Token).ConfigureAwait(false);
                            used = 0;
                        }
                        continue;
                    }
                    if (current is null)
                        break;
                    if (used + YamuxFrameHeader.Size + current.Data.Length <= buffer.Length && current.Data.Length <= CopyThreshold)
                    {
                        current.Header.Write(buffer.AsSpan(used));
                        current.Data.Span.CopyTo(buffer.AsSpan(used + YamuxFrameHeader.Size));
                        used += YamuxFrameHeader.Size + current.Data.Length;
                    }
                    else
                    {
                        if (used + YamuxFrameHeader.Size > buffer.Length)
                        {
                            await _transport.WriteAsync(buffer.AsMemory(0, used), _closing.Token).ConfigureAwait(false);
                            used = 0;
                        }
                        current.Header.Write(buffer.AsSpan(used));
                        used += YamuxFrameHeader.Size;
                        await _transport.WriteAsync(buffer.AsMemory(0, used), _closing.Token).ConfigureAwait(false);
                        used = 0;
                        await _transport.WriteAsync(current.Data, _closing.Token).ConfigureAwait(false);
                    }
                    current.Done.TrySetResult();
                    current = null;
                }
                if (used > 0)
                {
                    await _transport.WriteAsync(buffer.AsMemory(0, used), _closing.Token).ConfigureAwait(false);
                    used = 0;
                }
                await _transport.FlushAsync(_closing.Token).ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
                bool closeNow;
                Exception? closeError;
                lock (_writeLock)
                {
                    closeNow = _closeAfterFlush && _control.Count == 0;
                    closeError = _closeAfterFlushError;
                }
                if (closeNow)
                {
                    Close(closeError);
                    break;
                }
            }
        }
        catch (Exception e)
        {
            current?.Done.TrySetException(new IOException("yamux: session closed", e));
            Close(IsClosed || e is OperationCanceledException ? null : e);
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task HousekeepingAsync()
    {
        var tick = TimeSpan.FromSeconds(1);
        foreach (var t in new[] { Options.KeepAliveInterval, Options.OpenTimeout, Options.DeadLinkTimeout })
            if (t != Timeout.InfiniteTimeSpan && t / 2 < tick)
                tick = t / 2;
        if (tick < TimeSpan.FromMilliseconds(10))
            tick = TimeSpan.FromMilliseconds(10);
        using var timer = new PeriodicTimer(tick);
        long lastPing = Stopwatch.GetTimestamp();
        bool keepAlive = Options.KeepAliveInterval != Timeout.InfiniteTimeSpan;
        try
        {
            while (await timer.WaitForNextTickAsync(_closing.Token).ConfigureAwait(false))
            {
                long now = Stopwatch.GetTimestamp();
                if (keepAlive && Options.DeadLinkTimeout != Timeout.InfiniteTimeSpan
                    && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now) > Options.DeadLinkTimeout)
                {
                    Close(new MuxProtocolException($"yamux: nothing received for {Options.DeadLinkTimeout.TotalSeconds:0.#} s (dead link)"));
                    return;
                }
                if (keepAlive && Stopwatch.GetElapsedTime(lastPing, now) >= Options.KeepAliveInterval)
                {
                    SendPing(out _, null);
                    lastPing = now;
                }
                if (Options.OpenTimeout != Timeout.InfiniteTimeSpan)
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
        }
        catch (OperationCanceledException)
        {
        }
    }

    private bool SendPing(out uint value, PingWaiter? waiter)
    {
        lock (_pings)
        {
            value = _nextPingValue++;
            if (_pings.Count >= MaxOutstandingPings)
                return false;
            _pings[value] = waiter;
        }
        EnqueueControl(YamuxFrameType.Ping, YamuxFlags.Syn, 0, value);
        return !IsClosed;
    }

    /// <summary>Lets the write loop send what is queued (e.g. a GoAway), then closes; gives up after a short timeout.</summary>
    private async Task FlushThenCloseAsync(Exception? error)
    {
        lock (_writeLock)
        {
            _closeAfterFlush = true;
            _closeAfterFlushError ??= error;
        }
        _writeSignal.Set();
        try
        {
            await _completion.Task.WaitAsync(GoAwayFlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        Close(error);
    }

    private void Close(Exception? error)
    {
        List<YamuxStream> streams;
        List<PendingWrite> writes;
        List<PingWaiter> pings = [];
        lock (_streamsLock)
        {
            if (_closed)
                return;
            _closed = true;
            _error = error is PeerGoneException gone ? new MuxProtocolException(gone.Message) : error;
            streams = [.. _streams.Values];
            _streams.Clear();
            _unacknowledged.Clear();
            _drained.TrySetResult();
        }
        lock (_writeLock)
        {
            _control.Clear();
            writes = [.. _data];
            _data.Clear();
        }
        lock (_pings)
        {
            foreach (var waiter in _pings.Values)
                if (waiter is not null)
                    pings.Add(waiter);
            _pings.Clear();
        }
        _closing.Cancel();
        _accepted.Writer.TryComplete();
        var reason = error ?? new IOException("yamux: session ended");
        while (_accepted.Reader.TryRead(out var pending))
            streams.Add(pending);
        foreach (var stream in streams)
            stream.OnSessionClosed(reason);
        foreach (var write in writes)
            write.Done.TrySetException(new IOException("yamux: session closed", error));
        foreach (var ping in pings)
            ping.Done.TrySetException(new IOException("yamux: session closed", error));
        try
        {
            _transport.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
        _completion.TrySetResult();
    }

    private sealed class PendingWrite(YamuxFrameHeader header, ReadOnlyMemory<byte> data)
    {
        public const int Queued = 0;
        public const int Writing = 1;
        public const int Cancelled = 2;
        public readonly YamuxFrameHeader Header = header;
        public readonly ReadOnlyMemory<byte> Data = data;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int State;
    }

    private sealed class PingWaiter
    {
        public readonly long Sent = Stopwatch.GetTimestamp();
        public readonly TaskCompletionSource<TimeSpan> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The peer sent GoAway with an error code: the session ends without answering with another GoAway.</summary>
    private sealed class PeerGoneException(uint code) : Exception($"yamux: the peer ended the session with GoAway code {code}");
}

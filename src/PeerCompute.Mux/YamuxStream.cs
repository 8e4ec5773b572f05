using PeerCompute.Core.IO;
using System.Diagnostics;

namespace PeerCompute.Mux;

/// <summary>
/// One yamux stream as a <see cref="Stream"/>. Reads return credit to the peer as the application consumes data
/// (so backpressure reaches the sender); writes wait for send window and are cut into frames of at most
/// <see cref="YamuxOptions.MaxSendFrameSize"/>. <see cref="CompleteWritesAsync"/> half-closes (FIN),
/// <see cref="Reset"/> aborts (RST), Dispose half-closes and discards whatever still arrives.
/// Reads after a reset or a dead session throw <see cref="IOException"/>; a read after the peer's FIN returns 0.
/// </summary>
public sealed class YamuxStream : DuplexStream
{
    private readonly YamuxSession _session;
    private readonly Lock _lock = new();
    private readonly SegmentBuffer _received = new();
    private readonly AsyncSignal _readable = new();
    private readonly AsyncSignal _writable = new();
    private readonly long _maxReceiveWindow;
    private readonly TimeSpan _growthThreshold;

    private long _receiveCredit = YamuxOptions.InitialWindow;
    private long _receiveWindow = YamuxOptions.InitialWindow;
    private long _unreturned;
    private long _lastCreditReturn;
    private long _sendWindow = YamuxOptions.InitialWindow;
    private bool _remoteClosed;
    private bool _localClosed;
    private bool _reset;
    private bool _disposed;
    private bool _removed;
    private Exception? _sessionError;
    private Memory<byte> _pendingRead;   // a waiting reader's buffer: the read loop copies straight into it
    private int _pendingReadFilled;

    internal YamuxStream(YamuxSession session, uint id, bool outbound, YamuxOptions options)
    {
        _session = session;
        Id = id;
        IsOutbound = outbound;
        _maxReceiveWindow = options.MaxReceiveWindow;
        _growthThreshold = options.WindowGrowthThreshold;
        _lastCreditReturn = Stopwatch.GetTimestamp();
    }

    public uint Id { get; }

    /// <summary>True for a stream this side opened.</summary>
    public bool IsOutbound { get; }

    public YamuxSession Session => _session;

    /// <summary>The peer has half-closed (sent FIN) and everything it sent was read... or is still buffered.</summary>
    public bool IsRemoteClosed { get { lock (_lock) return _remoteClosed; } }

    public bool IsReset { get { lock (_lock) return _reset; } }

    /// <summary>Current receive window (grows up to <see cref="YamuxOptions.MaxReceiveWindow"/>).</summary>
    public long ReceiveWindow { get { lock (_lock) return _receiveWindow; } }

    /// <summary>
    /// A read that waits for data resumes on the session's read loop as the data arrives, instead of being handed to the
    /// thread pool: one thread hand-off (and often one context switch) less per read. Only for a reader that does little
    /// and never blocks before its next read (a splice that sends into a socket): the session's other streams wait for
    /// it meanwhile.
    /// </summary>
    public bool ResumeReadsOnReadLoop
    {
        get => _readable.ResumeInline;
        set => _readable.ResumeInline = value;
    }

    /// <summary>Bytes received and not yet read by the application.</summary>
    public long BufferedBytes { get { lock (_lock) return _received.Length; } }


    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
            return 0;
        while (true)
        {
            int read = -1;
            uint credit = 0;
            lock (_lock)
            {
                if (_received.Length > 0)
                {
                    read = _received.Read(buffer.Span);
                    credit = ConsumedLocked(read);
                }
                else if (_reset)
                {
                    throw new IOException($"yamux: stream {Id} was reset");
                }
                else if (_remoteClosed)
                {
                    read = 0;
                }
                else if (_sessionError is not null)
                {
                    throw new IOException($"yamux: session closed: {_sessionError.Message}", _sessionError);
                }
                else if (_disposed)
                {
                    throw new ObjectDisposedException(nameof(YamuxStream));
                }
                else
                {
                    _pendingRead = buffer;
                    _pendingReadFilled = 0;
                }
            }
            if (read >= 0)
            {
                if (credit > 0)
                    _session.EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.None, Id, credit);
                return read;
            }
            try
            {
                await _readable.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (TakePendingRead(out read, out credit))
                    return Delivered(read, credit);
                throw;
            }
            if (TakePendingRead(out read, out credit))
                return Delivered(read, credit);
        }
    }

    /// <summary>Unregisters the waiting reader's buffer; true when the read loop already put bytes in it.</summary>
    private bool TakePendingRead(out int read, out uint credit)
    {
        lock (_lock)
        {
            read = _pendingReadFilled;
            _pendingRead = default;
            _pendingReadFilled = 0;
            credit = read > 0 ? ConsumedLocked(read) : 0;
            return read > 0;
        }
    }

    private int Delivered(int read, uint credit)
    {
        if (credit > 0)
            _session.EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.None, Id, credit);
        return read;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            int chunk;
            lock (_lock)
            {
                ThrowIfCannotWriteLocked();
                chunk = (int)Math.Min(Math.Min(_sendWindow, buffer.Length), _session.Options.MaxSendFrameSize);
                _sendWindow -= chunk;
            }
            if (chunk == 0)
            {
                await _writable.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            await _session.WriteDataAsync(this, buffer[..chunk], cancellationToken).ConfigureAwait(false);
            buffer = buffer[chunk..];
        }
    }

    /// <summary>Half-closes: sends FIN after everything written so far. Reading goes on until the peer's FIN.</summary>
    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (_localClosed || _reset)
                return ValueTask.CompletedTask;
            if (_sessionError is not null)
                throw new IOException($"yamux: session closed: {_sessionError.Message}", _sessionError);
            _localClosed = true;
        }
        _session.EnqueueFin(Id);
        RemoveIfDone();
        return ValueTask.CompletedTask;
    }

    /// <summary>Same as <see cref="CompleteWritesAsync"/>.</summary>
    public ValueTask CloseWriteAsync(CancellationToken cancellationToken = default) => CompleteWritesAsync(cancellationToken);

    /// <summary>Aborts both directions (RST); pending and later reads and writes fail.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            if (_reset || (_localClosed && _remoteClosed) || _sessionError is not null)
                return;
            _reset = true;
            _received.Clear();
        }
        _session.EnqueueControl(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0);
        _readable.Set();
        _writable.Set();
        RemoveIfDone();
    }

    /// <summary>Half-closes and stops reading: later data from the peer is dropped (and no more credit is given).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            bool sendFin;
            lock (_lock)
            {
                if (_disposed)
                    return;
                _disposed = true;
                _received.Clear();
                sendFin = !_localClosed && !_reset && _sessionError is null;
                _localClosed = true;
            }
            if (sendFin)
                _session.EnqueueFin(Id);
            _readable.Set();
            _writable.Set();
            RemoveIfDone();
        }
        base.Dispose(disposing);
    }

    public override string ToString() => $"yamux stream {Id}";

    // ---- called by the session's read loop ----

    internal void OnDataHeader(uint length)
    {
        lock (_lock)
        {
            if (_remoteClosed)
                throw new MuxProtocolException($"yamux: data on stream {Id} after its FIN");
            if (length > _receiveCredit)
                throw new MuxProtocolException($"yamux: {length} bytes on stream {Id} exceed its window ({_receiveCredit})");
            _receiveCredit -= length;
        }
    }

    internal void OnData(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_reset || _disposed || _sessionError is not null)
                return;
            int free = _pendingRead.Length - _pendingReadFilled;
            if (free > 0 && _received.Length == 0)
            {
                int n = Math.Min(free, data.Length);
                data[..n].CopyTo(_pendingRead.Span[_pendingReadFilled..]);
                _pendingReadFilled += n;
                data = data[n..];
            }
            if (!data.IsEmpty)
                _received.Append(data);
        }
        _readable.Set();
    }

    internal void OnWindowUpdate(uint delta)
    {
        if (delta == 0)
            return;
        lock (_lock)
            _sendWindow += delta;
        _writable.Set();
    }

    internal void OnRemoteFin()
    {
        lock (_lock)
            _remoteClosed = true;
        _readable.Set();
        RemoveIfDone();
    }

    internal void OnRemoteReset()
    {
        lock (_lock)
        {
            if (_reset)
                return;
            _reset = true;
            _received.Clear();
        }
        _readable.Set();
        _writable.Set();
        RemoveIfDone();
    }

    internal void OnSessionClosed(Exception error)
    {
        lock (_lock)
        {
            _sessionError ??= error;
            _removed = true;
        }
        _readable.Set();
        _writable.Set();
    }

    private uint ConsumedLocked(int read)
    {
        if (_remoteClosed || _reset)
            return 0;
        _unreturned += read;
        if (_unreturned < _receiveWindow / 2)
            return 0;
        long now = Stopwatch.GetTimestamp();
        long growth = 0;
        // Half the window went by quickly: the window, not the reader, is the bottleneck; double it.
        if (_receiveWindow < _maxReceiveWindow && Stopwatch.GetElapsedTime(_lastCreditReturn, now) < _growthThreshold)
        {
            growth = _session.ReserveWindowGrowth(Math.Min(_receiveWindow, _maxReceiveWindow - _receiveWindow));
            _receiveWindow += growth;
        }
        if (growth == 0)
        {
            // The session's budget is nearly spent: a grown window gives its growth back (returning less credit than
            // was consumed), so new streams find room; it never goes below the spec's initial window.
            long shrink = Math.Min(_unreturned, _session.WindowShrinkWanted(_receiveWindow - YamuxOptions.InitialWindow));
            if (shrink > 0)
            {
                _receiveWindow -= shrink;
                _unreturned -= shrink;
                _session.ReleaseWindowGrowth(shrink);
            }
        }
        _lastCreditReturn = now;
        long delta = _unreturned + growth;
        _unreturned = 0;
        _receiveCredit += delta;
        return (uint)delta;
    }

    private void ThrowIfCannotWriteLocked()
    {
        if (_reset)
            throw new IOException($"yamux: stream {Id} was reset");
        if (_sessionError is not null)
            throw new IOException($"yamux: session closed: {_sessionError.Message}", _sessionError);
        if (_disposed)
            throw new ObjectDisposedException(nameof(YamuxStream));
        if (_localClosed)
            throw new InvalidOperationException($"yamux: stream {Id} was closed for writing");
    }

    private void RemoveIfDone()
    {
        long window;
        lock (_lock)
        {
            if (_removed || !(_reset || (_localClosed && _remoteClosed)))
                return;
            _removed = true;
            window = _receiveWindow;
        }
        _session.RemoveStream(this, window);
    }
}

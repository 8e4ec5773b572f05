using System.Buffers;

namespace PeerCompute.Mux;

/// <summary>
/// The one writer of a yamux session. Header-only control frames (window updates, SYN/ACK/RST, pings, GoAway)
/// go out ahead of queued data; FIN goes in order with its stream's data. Small data frames are copied when queued
/// (the writer returns at once, while at most <see cref="MaxCopiedBytes"/> are queued so), large ones are written
/// straight from the caller's memory once their turn comes; the transport is flushed once per batch, so a stream's
/// SYN, first data and FIN usually leave in one transport write. The batch buffer is rented only while there is
/// something to send, so an idle session holds none.
/// </summary>
internal sealed class YamuxFrameWriter
{
    private const int WriteBufferSize = 64 * 1024;
    private const int CopyThreshold = 16 * 1024;
    private const int MaxCopiedBytes = 64 * 1024;

    private readonly Stream _transport;
    private readonly int _maxPendingControlFrames;
    private readonly TimeSpan _writeTimeout;
    private CancellationTokenSource? _deadline; // linked to the write loop's token; armed for each transport call
    private readonly Action<Exception?> _close;
    private readonly Lock _lock = new();
    private readonly Queue<YamuxFrameHeader> _control = new();
    private readonly Queue<PendingWrite> _data = new();
    private readonly AsyncSignal _signal = new();
    private int _copiedBytes; // bytes of queued writes copied into pooled arrays (their callers have returned)
    private bool _completed;
    private Exception? _sessionError;
    private bool _closeAfterFlush;
    private Exception? _closeAfterFlushError;

    /// <param name="close">Ends the session: called when a close after flush is done or a write fails.</param>
    public YamuxFrameWriter(Stream transport, int maxPendingControlFrames, TimeSpan writeTimeout, Action<Exception?> close)
    {
        _transport = transport;
        _maxPendingControlFrames = maxPendingControlFrames;
        _writeTimeout = writeTimeout;
        _close = close;
    }

    /// <summary>Queues a header-only frame; false when too many are queued already (the peer is not reading).</summary>
    public bool TryEnqueueControl(YamuxFrameHeader header)
    {
        lock (_lock)
        {
            if (_completed)
                return true;
            if (_control.Count >= _maxPendingControlFrames)
                return false;
            _control.Enqueue(header);
        }
        _signal.Set();
        return true;
    }

    /// <summary>
    /// Queues one data frame: a small one is copied and the call returns at once; a large one is waited for until it
    /// is written. When <paramref name="cancellationToken"/> fires during that wait, a frame not yet started is
    /// dropped, one under way is waited for (the caller's memory must not be touched after we return), and the stream
    /// is reset: part of its data may be missing now. A token cancelled already writes nothing.
    /// </summary>
    public ValueTask WriteDataAsync(YamuxStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        var header = new YamuxFrameHeader(YamuxFrameType.Data, YamuxFlags.None, stream.Id, (uint)data.Length);
        bool copyFailed = false;
        if (data.Length <= CopyThreshold)
        {
            // Small: copied now, so the caller goes on (to its FIN, say) and the writer sends it all in one batch.
            lock (_lock)
            {
                if (_completed)
                    throw new IOException("yamux: session closed", _sessionError);
                if (_copiedBytes + data.Length <= MaxCopiedBytes)
                {
                    _copiedBytes += data.Length;
                    var copy = ArrayPool<byte>.Shared.Rent(data.Length);
                    data.Span.CopyTo(copy);
                    _data.Enqueue(new PendingWrite(header, copy.AsMemory(0, data.Length), copy));
                }
                else
                {
                    copyFailed = true;
                }
            }
            if (!copyFailed)
            {
                _signal.Set();
                return ValueTask.CompletedTask;
            }
        }
        return WriteAndWaitAsync(stream, header, data, cancellationToken);
    }

    /// <summary>Queues a FIN after the stream's queued data (a FIN must not overtake data written before it).</summary>
    public void EnqueueFin(uint streamId)
    {
        lock (_lock)
        {
            if (_completed)
                return;
            _data.Enqueue(new PendingWrite(new YamuxFrameHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, streamId, 0), ReadOnlyMemory<byte>.Empty, null));
        }
        _signal.Set();
    }

    private async ValueTask WriteAndWaitAsync(YamuxStream stream, YamuxFrameHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = new PendingWrite(header, data, null) { Done = done };
        lock (_lock)
        {
            if (_completed)
                throw new IOException("yamux: session closed", _sessionError);
            _data.Enqueue(write);
        }
        _signal.Set();
        if (!cancellationToken.CanBeCanceled)
        {
            await done.Task.ConfigureAwait(false);
            return;
        }
        try
        {
            await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            bool inFlight;
            lock (_lock)
            {
                inFlight = write.State != PendingWrite.Queued;
                write.State = PendingWrite.Cancelled;
            }
            if (inFlight)
                await done.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            stream.Reset();
            throw;
        }
    }

    /// <summary>Lets the loop send what is queued (e.g. a GoAway), then end the session with <paramref name="error"/>.</summary>
    public void CloseAfterFlush(Exception? error)
    {
        lock (_lock)
        {
            _closeAfterFlush = true;
            _closeAfterFlushError ??= error;
        }
        _signal.Set();
    }

    /// <summary>
    /// The session has ended: drops queued control frames, fails queued data writes with <paramref name="error"/>, and
    /// refuses later ones citing <paramref name="sessionError"/>.
    /// </summary>
    public void Complete(Exception? error, Exception? sessionError)
    {
        List<PendingWrite> writes;
        lock (_lock)
        {
            _completed = true;
            _sessionError = sessionError;
            _control.Clear();
            writes = [.. _data];
            _data.Clear();
        }
        foreach (var write in writes)
            write.Finish(new IOException("yamux: session closed", error));
    }

    /// <summary>The write loop: runs until the session ends (<paramref name="cancellationToken"/>) or a write fails.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        byte[]? buffer = null; // rented while there is something to send
        int used = 0;
        PendingWrite? current = null;
        try
        {
            while (true)
            {
                await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
                buffer ??= ArrayPool<byte>.Shared.Rent(WriteBufferSize);
                while (true)
                {
                    bool wroteControl = false;
                    current = null;
                    lock (_lock)
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
                            await _transport.WriteAsync(buffer.AsMemory(0, used), Armed(cancellationToken)).ConfigureAwait(false);
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
                            await _transport.WriteAsync(buffer.AsMemory(0, used), Armed(cancellationToken)).ConfigureAwait(false);
                            used = 0;
                        }
                        current.Header.Write(buffer.AsSpan(used));
                        used += YamuxFrameHeader.Size;
                        await _transport.WriteAsync(buffer.AsMemory(0, used), Armed(cancellationToken)).ConfigureAwait(false);
                        used = 0;
                        await _transport.WriteAsync(current.Data, Armed(cancellationToken)).ConfigureAwait(false);
                    }
                    FinishWrite(current, null);
                    current = null;
                }
                if (used > 0)
                {
                    await _transport.WriteAsync(buffer.AsMemory(0, used), Armed(cancellationToken)).ConfigureAwait(false);
                    used = 0;
                }
                await _transport.FlushAsync(Armed(cancellationToken)).ConfigureAwait(false);
                _deadline?.CancelAfter(Timeout.InfiniteTimeSpan);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
                bool closeNow;
                Exception? closeError;
                lock (_lock)
                {
                    closeNow = _closeAfterFlush && _control.Count == 0;
                    closeError = _closeAfterFlushError;
                }
                if (closeNow)
                {
                    _close(closeError);
                    break;
                }
            }
        }
        catch (Exception e)
        {
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                e = new IOException($"yamux: the peer has read nothing for {_writeTimeout.TotalSeconds:0.#} s (write timeout); closing the connection", e);
            if (current is not null)
                FinishWrite(current, new IOException("yamux: session closed", e));
            bool completed;
            lock (_lock)
                completed = _completed;
            _close(completed || e is OperationCanceledException ? null : e);
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
            _deadline?.Dispose();
        }
    }

    /// <summary>The token for one transport call: the loop's, plus the write deadline counted from now.</summary>
    private CancellationToken Armed(CancellationToken loop)
    {
        if (_writeTimeout == Timeout.InfiniteTimeSpan)
            return loop;
        // A deadline that fired just after the previous call completed must not fail the next one.
        if (_deadline is null || (_deadline.IsCancellationRequested && !loop.IsCancellationRequested))
        {
            _deadline?.Dispose();
            _deadline = CancellationTokenSource.CreateLinkedTokenSource(loop);
        }
        _deadline.CancelAfter(_writeTimeout);
        return _deadline.Token;
    }

    private void FinishWrite(PendingWrite write, Exception? error)
    {
        if (write.Copy is not null)
        {
            lock (_lock)
                _copiedBytes -= write.Data.Length;
        }
        write.Finish(error);
    }

    /// <param name="copy">The pooled array <paramref name="data"/> was copied into (the caller did not wait), or null.</param>
    private sealed class PendingWrite(YamuxFrameHeader header, ReadOnlyMemory<byte> data, byte[]? copy)
    {
        public const int Queued = 0;
        public const int Writing = 1;
        public const int Cancelled = 2;
        public readonly YamuxFrameHeader Header = header;
        public readonly ReadOnlyMemory<byte> Data = data;
        public byte[]? Copy = copy;
        /// <summary>Set for a write whose caller waits for it (large data).</summary>
        public TaskCompletionSource? Done { get; init; }
        public int State;

        /// <summary>Written or dropped: wakes the caller, gives a copy back to the pool (once).</summary>
        public void Finish(Exception? error)
        {
            if (Copy is { } copy)
            {
                Copy = null;
                ArrayPool<byte>.Shared.Return(copy);
            }
            if (error is null)
                Done?.TrySetResult();
            else
                Done?.TrySetException(error);
        }
    }
}

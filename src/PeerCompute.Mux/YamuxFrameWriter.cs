using System.Buffers;

namespace PeerCompute.Mux;

/// <summary>
/// The one writer of a yamux session. Header-only control frames (window updates, SYN/ACK/FIN/RST, pings, GoAway)
/// go out ahead of queued data; small data frames are copied into the batch buffer, large ones are written straight
/// from the caller's memory; the transport is flushed once per batch. The batch buffer is rented only while there is
/// something to send, so an idle session holds none.
/// </summary>
internal sealed class YamuxFrameWriter
{
    private const int WriteBufferSize = 64 * 1024;
    private const int CopyThreshold = 16 * 1024;

    private readonly Stream _transport;
    private readonly int _maxPendingControlFrames;
    private readonly TimeSpan _writeTimeout;
    private CancellationTokenSource? _deadline; // linked to the write loop's token; armed for each transport call
    private readonly Action<Exception?> _close;
    private readonly Lock _lock = new();
    private readonly Queue<YamuxFrameHeader> _control = new();
    private readonly Queue<PendingWrite> _data = new();
    private readonly AsyncSignal _signal = new();
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
    /// Queues one data frame and waits until it is written. When <paramref name="cancellationToken"/> fires, a frame
    /// not yet started is dropped, one under way is waited for (the caller's memory must not be touched after we
    /// return), and the stream is reset: part of its data may be missing now.
    /// </summary>
    public async ValueTask WriteDataAsync(YamuxStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var write = new PendingWrite(new YamuxFrameHeader(YamuxFrameType.Data, YamuxFlags.None, stream.Id, (uint)data.Length), data);
        lock (_lock)
        {
            if (_completed)
                throw new IOException("yamux: session closed", _sessionError);
            _data.Enqueue(write);
        }
        _signal.Set();
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
            lock (_lock)
            {
                inFlight = write.State != PendingWrite.Queued;
                write.State = PendingWrite.Cancelled;
            }
            if (inFlight)
                await write.Done.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
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
            write.Done.TrySetException(new IOException("yamux: session closed", error));
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
                    current.Done.TrySetResult();
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
            current?.Done.TrySetException(new IOException("yamux: session closed", e));
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
}

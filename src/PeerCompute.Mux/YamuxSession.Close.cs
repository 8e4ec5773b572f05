namespace PeerCompute.Mux;

/// <summary>The end of a session: GoAway, a graceful drain, disposal, and the one place that tears everything down.</summary>
public sealed partial class YamuxSession
{
    private static readonly TimeSpan GoAwayFlushTimeout = TimeSpan.FromSeconds(2);

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

    /// <summary>Lets the write loop send what is queued (e.g. a GoAway), then closes; gives up after a short timeout.</summary>
    private async Task FlushThenCloseAsync(Exception? error)
    {
        _writer.CloseAfterFlush(error);
        try
        {
            await _completion.Task.WaitAsync(GoAwayFlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        Close(error);
    }

    /// <summary>Ends the session now (idempotent): fails every stream, write and ping, and disposes the transport.</summary>
    internal void Close(Exception? error)
    {
        List<YamuxStream> streams;
        Exception? recorded;
        lock (_streamsLock)
        {
            if (_closed)
                return;
            _closed = true;
            _error = error is PeerGoneException gone ? new MuxProtocolException(gone.Message) : error;
            recorded = _error;
            streams = [.. _streams.Values];
            _streams.Clear();
            _unacknowledged.Clear();
            _drained.TrySetResult();
        }
        _writer.Complete(error, recorded);
        _keepAlive.Fail(error);
        _closing.Cancel();
        _accepted.Writer.TryComplete();
        var reason = error ?? new IOException("yamux: session ended");
        while (_accepted.Reader.TryRead(out var pending))
            streams.Add(pending);
        foreach (var stream in streams)
            stream.OnSessionClosed(reason);
        try
        {
            _transport.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
        _completion.TrySetResult();
    }

    /// <summary>The peer sent GoAway with an error code: the session ends without answering with another GoAway.</summary>
    private sealed class PeerGoneException(uint code) : Exception($"yamux: the peer ended the session with GoAway code {code}");
}

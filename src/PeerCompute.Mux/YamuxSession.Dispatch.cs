using System.Buffers;

namespace PeerCompute.Mux;

/// <summary>The read loop and frame dispatch: headers are parsed as they arrive, bodies handed to their streams.</summary>
public sealed partial class YamuxSession
{
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
                _keepAlive.OnReceived();
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
                _keepAlive.OnPing(header);
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
            // Beyond the stream ceiling or the receive budget a peer's new stream is refused; the others are not touched.
            if (_localGoAway || _closed || _streams.Count >= Options.MaxStreams || !HasRoomForStreamLocked())
            {
                stream = null!;
            }
            else
            {
                stream = new YamuxStream(this, id, outbound: false, Options);
                _streams.Add(id, stream);
                _receiveReserved += YamuxOptions.InitialWindow;
            }
        }
        if (stream is null || !_accepted.Writer.TryWrite(stream))
        {
            if (stream is not null)
                RemoveStream(stream, YamuxOptions.InitialWindow);
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
}

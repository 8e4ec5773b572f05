using PeerCompute.Mux;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// One request's stream to a provider's container. The route header is written when the stream is opened and the
/// request may follow at once; the provider's <see cref="RouteStatus"/> byte is consumed by the first read, so a
/// request costs no extra round trip. A status other than Connected surfaces from that read as a
/// <see cref="TunnelException"/> (wrapped in an <see cref="IOException"/> for HTTP clients) that says why.
/// </summary>
public sealed class RouteStream : Stream
{
    private readonly YamuxStream _inner;
    private readonly string _label;
    private readonly GatewayMetrics? _metrics;
    private readonly TimeSpan _statusTimeout;
    private bool _statusRead;
    private bool _answered;
    private bool _readSinceWrite;
    private bool _written;

    internal RouteStream(YamuxStream inner, string label, TimeSpan statusTimeout, GatewayMetrics? metrics)
    {
        _inner = inner;
        // The reader is the forwarder's HTTP/1.1 connection: it parses what arrived and copies it on toward the client's
        // connection (whose writes only block asynchronously), so it may go on right on the tunnel's read loop.
        _inner.ResumeReadsOnReadLoop = true;
        _label = label;
        _statusTimeout = statusTimeout;
        _metrics = metrics;
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_statusRead)
            await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
        int read;
        try
        {
            read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (LostBeforeAnswer)
        {
            throw new KeptStreamLostException(_label, e);
        }
        catch (IOException e) when (!_answered && !cancellationToken.IsCancellationRequested)
        {
            throw Fail(NoAnswer(e));
        }
        if (read == 0 && buffer.Length > 0)
        {
            if (LostBeforeAnswer)
                throw new KeptStreamLostException(_label, null);
            if (!_answered)
                throw Fail(NoAnswer(null));
        }
        if (read > 0)
        {
            _answered = true;
            _readSinceWrite = true;
        }
        _metrics?.AddBytesFromProviders(read);
        return read;
    }

    /// <summary>
    /// The stream carried an earlier exchange, something was written since, and nothing came back before it ended:
    /// a kept connection that died between requests (the container closed it, the provider cut it).
    /// </summary>
    private bool LostBeforeAnswer => _answered && !_readSinceWrite && _written;

    /// <summary>
    /// The stream ended (or was reset) after the provider connected it and before the container sent a byte: the container
    /// closed the connection without answering (e.g. Docker's port proxy accepts for a container that listens on
    /// another port), unless the tunnel itself went down.
    /// </summary>
    private TunnelException NoAnswer(IOException? error) => _inner.Session.Error is { } tunnelError
        ? new TunnelException(TunnelErrorKind.Network, $"the tunnel to the provider of {_label} failed: {tunnelError.Message}", tunnelError)
        : error is null
            ? new TunnelException(TunnelErrorKind.UpstreamUnavailable, $"the container of {_label} closed the connection without answering")
            : new TunnelException(TunnelErrorKind.UpstreamUnavailable, $"the container of {_label} closed the connection without answering ({error.Message})", error);

    /// <summary>Waits for the provider's answer to the route header; throws when it is not Connected.</summary>
    public async ValueTask ReadStatusAsync(CancellationToken cancellationToken)
    {
        if (_statusRead)
            return;
        byte[] status = new byte[1];
        int read;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_statusTimeout);
            try
            {
                read = await _inner.ReadAsync(status, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The provider answers within its own connect timeout whatever the container does: silence is the tunnel's.
                throw Fail(new TunnelException(TunnelErrorKind.Network, $"the provider did not answer for {_label} within {_statusTimeout.TotalSeconds:0.#} s"));
            }
            catch (IOException e)
            {
                throw Fail(new TunnelException(TunnelErrorKind.Network, $"the tunnel to the provider of {_label} failed: {e.Message}", e));
            }
        }
        _statusRead = true;
        if (read == 0)
            throw Fail(new TunnelException(TunnelErrorKind.Network, $"the provider closed the stream for {_label} without an answer"));
        switch ((RouteStatus)status[0])
        {
            case RouteStatus.Connected:
                return;
            case RouteStatus.UnknownRoute:
                throw Fail(new TunnelException(TunnelErrorKind.UnknownRoute, $"the provider does not serve {_label}"));
            case RouteStatus.UpstreamUnavailable:
                throw Fail(new TunnelException(TunnelErrorKind.UpstreamUnavailable, $"the container of {_label} refused the connection on its port"));
            default:
                throw Fail(new TunnelException(TunnelErrorKind.Protocol, $"the provider answered {_label} with unknown status {status[0]}"));
        }
    }

    private IOException Fail(TunnelException reason)
    {
        _inner.Reset();
        return new IOException(reason.Message, reason);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readSinceWrite || !_written)
        {
            _readSinceWrite = false;
            _written = true;
        }
        await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        _metrics?.AddBytesToProviders(buffer.Length);
    }

    /// <summary>Half-closes toward the container (end of request body) without ending the response.</summary>
    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken = default) => _inner.CompleteWritesAsync(cancellationToken);

    public void Reset() => _inner.Reset();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // A stream given up before both sides finished is reset, so the provider stops splicing at once.
            if (!_inner.IsRemoteClosed)
                _inner.Reset();
            _inner.Dispose();
            _metrics?.RouteStreamClosed();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A kept-alive route stream ended after a new request was written to it and before any byte of its answer: the
/// request may not have reached the container, and was certainly not answered.
/// </summary>
public sealed class KeptStreamLostException(string label, Exception? inner)
    : IOException($"the kept connection to {label} ended before answering", inner);

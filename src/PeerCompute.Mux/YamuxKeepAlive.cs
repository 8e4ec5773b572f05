using System.Diagnostics;

namespace PeerCompute.Mux;

/// <summary>
/// Keep-alive and dead-link detection for a yamux session: pings (ours every <see cref="YamuxOptions.KeepAliveInterval"/>,
/// the application's through <see cref="PingAsync"/>), the answers to the peer's pings, and the end of a session from
/// which nothing at all arrived for <see cref="YamuxOptions.DeadLinkTimeout"/>. Its timer also drives the session's
/// <see cref="YamuxOptions.OpenTimeout"/> check.
/// </summary>
internal sealed class YamuxKeepAlive
{
    private const int MaxOutstandingPings = 16;

    private readonly YamuxSession _session;
    private readonly YamuxOptions _options;
    private readonly Dictionary<uint, PingWaiter?> _pings = [];
    private uint _nextPingValue;
    private long _lastReceived;

    public YamuxKeepAlive(YamuxSession session)
    {
        _session = session;
        _options = session.Options;
        _lastReceived = Stopwatch.GetTimestamp();
    }

    private bool Enabled => _options.KeepAliveInterval != Timeout.InfiniteTimeSpan;

    /// <summary>Bytes arrived from the peer: the link is alive.</summary>
    public void OnReceived() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

    /// <summary>The client pings once at start, when keep-alive is on.</summary>
    public void Start()
    {
        if (_session.IsClient && Enabled)
            SendPing(out _, null);
    }

    /// <summary>Sends a Ping and waits for its ACK; returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
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

    /// <summary>A Ping frame from the peer: a SYN is answered, an ACK must answer one of ours.</summary>
    public void OnPing(YamuxFrameHeader header)
    {
        if (header.Flags == YamuxFlags.Syn)
        {
            _session.EnqueueControl(YamuxFrameType.Ping, YamuxFlags.Ack, 0, header.Length);
            return;
        }
        PingWaiter? waiter;
        lock (_pings)
        {
            if (!_pings.Remove(header.Length, out waiter))
                throw new MuxProtocolException($"yamux: unsolicited ping ACK {header.Length}");
        }
        waiter?.Done.TrySetResult(Stopwatch.GetElapsedTime(waiter.Sent));
    }

    /// <summary>The session has ended: every waiting <see cref="PingAsync"/> fails.</summary>
    public void Fail(Exception? error)
    {
        List<PingWaiter> waiters = [];
        lock (_pings)
        {
            foreach (var waiter in _pings.Values)
                if (waiter is not null)
                    waiters.Add(waiter);
            _pings.Clear();
        }
        foreach (var waiter in waiters)
            waiter.Done.TrySetException(new IOException("yamux: session closed", error));
    }

    /// <summary>The timer loop: runs until the session ends (<paramref name="cancellationToken"/>) or the link is found dead.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var tick = TimeSpan.FromSeconds(1);
        foreach (var t in new[] { _options.KeepAliveInterval, _options.OpenTimeout, _options.DeadLinkTimeout })
            if (t != Timeout.InfiniteTimeSpan && t / 2 < tick)
                tick = t / 2;
        if (tick < TimeSpan.FromMilliseconds(10))
            tick = TimeSpan.FromMilliseconds(10);
        using var timer = new PeriodicTimer(tick);
        long lastPing = Stopwatch.GetTimestamp();
        bool keepAlive = Enabled;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                long now = Stopwatch.GetTimestamp();
                if (keepAlive && _options.DeadLinkTimeout != Timeout.InfiniteTimeSpan
                    && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now) > _options.DeadLinkTimeout)
                {
                    _session.Close(new MuxProtocolException($"yamux: nothing received for {_options.DeadLinkTimeout.TotalSeconds:0.#} s (dead link)"));
                    return;
                }
                if (keepAlive && Stopwatch.GetElapsedTime(lastPing, now) >= _options.KeepAliveInterval)
                {
                    SendPing(out _, null);
                    lastPing = now;
                }
                if (_options.OpenTimeout != Timeout.InfiniteTimeSpan)
                    _session.ResetUnacknowledgedStreams(now);
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
        _session.EnqueueControl(YamuxFrameType.Ping, YamuxFlags.Syn, 0, value);
        return !_session.IsClosed;
    }

    private sealed class PingWaiter
    {
        public readonly long Sent = Stopwatch.GetTimestamp();
        public readonly TaskCompletionSource<TimeSpan> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

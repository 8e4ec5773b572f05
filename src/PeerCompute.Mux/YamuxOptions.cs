namespace PeerCompute.Mux;

/// <summary>Every limit of a yamux session, with the defaults Peer Compute uses.</summary>
public sealed record YamuxOptions
{
    /// <summary>The window every stream starts with in each direction (fixed by the spec).</summary>
    public const int InitialWindow = 256 * 1024;

    /// <summary>The receive window grows (doubling, while the application keeps up) up to this.</summary>
    public int MaxReceiveWindow { get; init; } = 16 * 1024 * 1024;

    /// <summary>Data frames we send carry at most this many bytes, so one busy stream cannot starve the others.</summary>
    public int MaxSendFrameSize { get; init; } = 256 * 1024;

    /// <summary>
    /// Receive window all streams of a session may hold beyond their initial 256 KiB, together (a cap on growth within
    /// <see cref="SessionReceiveBudget"/>).
    /// </summary>
    public long SessionWindowGrowthBudget { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// Receive window all streams of a session may hold together, initial windows included: the most a peer can make
    /// this session buffer, whatever the number of streams. Each stream takes its 256 KiB initial window (fixed by the
    /// spec) from it when it opens; a stream that does not fit is refused (our open fails with
    /// <see cref="YamuxStreamLimitException"/>, a peer's SYN is answered with RST) and the other streams are not
    /// touched. Window growth takes only what leaves an eighth of the budget free for new streams, and while less than
    /// that is free, grown windows shrink back towards 256 KiB as their credit is returned, like a connection-level
    /// flow-control window. Null: <see cref="MaxStreams"/> × 256 KiB + <see cref="SessionWindowGrowthBudget"/>.
    /// </summary>
    public long? SessionReceiveBudget { get; init; }

    /// <summary>The budget in force: <see cref="SessionReceiveBudget"/>, or its default.</summary>
    public long EffectiveReceiveBudget => SessionReceiveBudget ?? (long)MaxStreams * InitialWindow + SessionWindowGrowthBudget;

    /// <summary>
    /// Streams open at once (both directions); a peer's SYN beyond it is answered with RST, our open beyond it fails
    /// with <see cref="YamuxStreamLimitException"/>.
    /// </summary>
    public int MaxStreams { get; init; } = 256;

    /// <summary>Inbound streams waiting for <see cref="YamuxSession.AcceptStreamAsync"/>; beyond it new ones are reset.</summary>
    public int AcceptBacklog { get; init; } = 256;

    /// <summary>A Ping is sent this often (and once at start by the client); <see cref="Timeout.InfiniteTimeSpan"/> turns it off.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The session is closed when nothing at all has been received for this long (needs keepalive on one side).</summary>
    public TimeSpan DeadLinkTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// A write to the transport that has not completed within this time means the peer has stopped reading: the
    /// session is closed and the transport disposed, so the peer sees the connection end instead of hanging on it.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off.
    /// </summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A stream we opened is reset when the peer has not acknowledged it within this time.</summary>
    public TimeSpan OpenTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Header-only frames (window updates, ping answers, SYN/FIN/RST) queued while the peer is not reading; beyond it the session is closed.</summary>
    public int MaxPendingControlFrames { get; init; } = 4096;

    /// <summary>Bytes read from the transport per read call.</summary>
    public int ReadBufferSize { get; init; } = 256 * 1024;

    /// <summary>
    /// A window is doubled when the application consumed half of it within this time. Generous on purpose: on a
    /// long round trip a window-bound sender fills half the window about every half round trip, and growth is
    /// bounded by <see cref="MaxReceiveWindow"/> and <see cref="SessionWindowGrowthBudget"/> anyway.
    /// </summary>
    public TimeSpan WindowGrowthThreshold { get; init; } = TimeSpan.FromSeconds(1);

    internal void Validate()
    {
        if (MaxReceiveWindow < InitialWindow)
            throw new ArgumentOutOfRangeException(nameof(MaxReceiveWindow), $"at least {InitialWindow}");
        if (MaxSendFrameSize < 1024)
            throw new ArgumentOutOfRangeException(nameof(MaxSendFrameSize), "at least 1024");
        if (WriteTimeout <= TimeSpan.Zero && WriteTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(WriteTimeout), "positive, or infinite");
        if (MaxStreams < 1 || AcceptBacklog < 1 || MaxPendingControlFrames < 16 || ReadBufferSize < 4096)
            throw new ArgumentOutOfRangeException(nameof(MaxStreams), "limits must be positive");
        if (SessionReceiveBudget < InitialWindow || SessionWindowGrowthBudget < 0)
            throw new ArgumentOutOfRangeException(nameof(SessionReceiveBudget), $"at least {InitialWindow} (one stream's initial window)");
    }
}

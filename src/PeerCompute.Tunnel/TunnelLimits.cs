using PeerCompute.Mux;

namespace PeerCompute.Tunnel;

/// <summary>
/// The multiplexer limits of a tunnel, the same on both ends: each public connection to a container (one request at a time,
/// kept alive between requests) holds one stream, so a tunnel must carry thousands at once (long downloads, WebSockets, event streams), while what a session may buffer stays bounded
/// by its receive budget whatever the stream count.
/// </summary>
public static class TunnelLimits
{
    /// <summary>Streams one tunnel carries at once (the gateway's <c>--tunnel-max-streams</c>).</summary>
    public const int MaxStreams = 4096;

    /// <summary>
    /// Receive window one tunnel session may hold, all streams together (the gateway's <c>--tunnel-receive-budget-mib</c>):
    /// every one of <see cref="MaxStreams"/> streams can have its 256 KiB initial window; growth takes what fewer
    /// streams leave free.
    /// </summary>
    public const long ReceiveBudget = (long)MaxStreams * YamuxOptions.InitialWindow;

    /// <summary>The multiplexer options of a tunnel with these limits.</summary>
    public static YamuxOptions Yamux(int maxStreams = MaxStreams, long receiveBudget = ReceiveBudget) =>
        new() { MaxStreams = maxStreams, AcceptBacklog = Math.Min(maxStreams, 1024), SessionReceiveBudget = receiveBudget };
}

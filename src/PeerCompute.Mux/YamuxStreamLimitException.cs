namespace PeerCompute.Mux;

/// <summary>
/// <see cref="YamuxSession.OpenStreamAsync"/> found no room for one more stream: <see cref="YamuxOptions.MaxStreams"/>
/// are open, or the <see cref="YamuxOptions.SessionReceiveBudget"/> cannot cover one more initial window. The session
/// and its other streams are fine; the caller may try again once streams have closed.
/// </summary>
public sealed class YamuxStreamLimitException(string reason) : IOException(reason);

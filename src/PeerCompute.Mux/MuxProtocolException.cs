namespace PeerCompute.Mux;

/// <summary>
/// The one exception the stream multiplexer throws for a peer that broke the yamux protocol (a malformed header,
/// a window overrun, an unsolicited ping answer, a dead link). <see cref="Exception.Message"/> is a reason a person
/// can read; it ends the session and is what <see cref="YamuxSession.Error"/> holds.
/// </summary>
public sealed class MuxProtocolException : Exception
{
    public MuxProtocolException(string reason) : base(reason)
    {
    }

    public MuxProtocolException(string reason, Exception inner) : base(reason, inner)
    {
    }
}

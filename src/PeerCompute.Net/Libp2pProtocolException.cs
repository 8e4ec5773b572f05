namespace PeerCompute.Net;

/// <summary>
/// The one exception the libp2p layer throws for a peer that broke the protocol (bad bytes, bad signature,
/// wrong identity, a limit exceeded). <see cref="Exception.Message"/> is a reason a person can read.
/// </summary>
public sealed class Libp2pProtocolException : Exception
{
    public Libp2pProtocolException(string reason) : base(reason)
    {
    }

    public Libp2pProtocolException(string reason, Exception inner) : base(reason, inner)
    {
    }
}

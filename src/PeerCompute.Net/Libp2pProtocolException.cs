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

    /// <summary>
    /// When the handshake proved the remote is another peer than the one dialled: who it really is, so a caller can say
    /// "the peer at that address is X, not the Y you trust" instead of blaming the address.
    /// </summary>
    public PeerCompute.Core.Identity.PeerId? ActualPeer { get; init; }
}

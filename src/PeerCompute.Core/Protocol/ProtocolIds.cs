namespace PeerCompute.Core.Protocol;

public static class ProtocolIds
{
    /// <summary>The application protocol, negotiated with multistream-select on each yamux stream.</summary>
    public const string PeerCompute = "/peercompute/1.0.0";
}

namespace PeerCompute.Core.Protocol;

/// <summary>A frame that breaks the protocol. <see cref="Code"/> is one of <see cref="ErrorCodes"/>.</summary>
public sealed class FrameException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

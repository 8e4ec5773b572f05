namespace PeerCompute.Tunnel;

/// <summary>Why a tunnel operation failed, in words a person can act on.</summary>
public enum TunnelErrorKind
{
    /// <summary>The peer sent bytes that break the tunnel protocol (or exceed a limit).</summary>
    Protocol,
    /// <summary>The gateway's certificate was not accepted (chain, name or pin).</summary>
    Certificate,
    /// <summary>The gateway refused this provider (untrusted, bad signature, name taken).</summary>
    Refused,
    /// <summary>The link failed (connect, timeout, reset, dead link).</summary>
    Network,
    /// <summary>The provider has no such route.</summary>
    UnknownRoute,
    /// <summary>The route exists but its container did not accept the connection, or closed it without answering.</summary>
    UpstreamUnavailable,
    /// <summary>The container did not begin its answer within the gateway's time.</summary>
    UpstreamTimeout,
    /// <summary>The provider is not connected (or is going away).</summary>
    ProviderOffline,
    /// <summary>The provider's tunnel carries as many requests as it may at once (streams or receive budget): try again soon.</summary>
    TunnelBusy,
    /// <summary>A state or configuration file cannot be used.</summary>
    State,
}

/// <summary>The one exception type of the tunnel layer; <see cref="Exception.Message"/> is a reason the CLI can show.</summary>
public sealed class TunnelException : Exception
{
    public TunnelException(TunnelErrorKind kind, string reason) : base(reason) => Kind = kind;

    public TunnelException(TunnelErrorKind kind, string reason, Exception inner) : base(reason, inner) => Kind = kind;

    public TunnelErrorKind Kind { get; }
}

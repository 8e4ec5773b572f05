namespace PeerCompute.Tunnel.Gateway;

/// <summary>Where one custom domain stands at a gateway.</summary>
public enum DomainState : byte
{
    /// <summary>Not held at this gateway (never announced, released, or the gateway serves no custom domains).</summary>
    Unknown = 0,

    /// <summary>Held by a deployment of another provider: this one's claim was refused.</summary>
    HeldByAnother = 1,

    /// <summary>Held, but its DNS does not point at the deployment's hostname yet.</summary>
    WaitingForDns = 2,

    /// <summary>Its DNS points here; its certificate is being obtained.</summary>
    Verified = 3,

    /// <summary>Served over HTTPS with a certificate of its own.</summary>
    Serving = 4,

    /// <summary>The last attempt to obtain its certificate failed; it is tried again at <see cref="DomainStatus.NextAttempt"/>.</summary>
    Failed = 5,
}

/// <summary>One custom domain at a gateway: who holds it, where it stands, and the words a person needs to act on it.</summary>
public sealed record DomainStatus(string Domain, string? Label, DomainState State, DateTimeOffset? CertificateExpires, DateTimeOffset? NextAttempt, string Detail)
{
    public static DomainStatus NotHeld(string domain) => new(domain, null, DomainState.Unknown, null, null, "not claimed at this gateway");
}

/// <summary>Tells where the custom domains a gateway holds stand (the gateway's certificate manager).</summary>
public interface IDomainStatusSource
{
    /// <summary>The status of <paramref name="domain"/>; <see cref="DomainStatus.NotHeld"/> when no deployment holds it here.</summary>
    DomainStatus StatusOf(string domain);

    /// <summary>Every domain held here, by name.</summary>
    IReadOnlyList<DomainStatus> All();
}

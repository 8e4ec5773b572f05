namespace PeerCompute.Runtime;

/// <summary>What went wrong, for programs that map runtime failures to protocol errors and exit codes.</summary>
public enum RuntimeErrorCode
{
    /// <summary>The deployment request is malformed, out of range, or asks for something the runtime never grants.</summary>
    InvalidSpec,
    /// <summary>Admitting the request would exceed one of the provider's caps.</summary>
    CapacityExceeded,
    /// <summary>Another deployment on this provider (of any owner) has the name; names are public hostname labels.</summary>
    NameTaken,
    /// <summary>The image is neither present locally nor known to its registry.</summary>
    ImageNotFound,
    /// <summary>The registry could not be reached, or the engine failed the pull for another reason (bad manifest, disk).</summary>
    ImagePullFailed,
    /// <summary>
    /// The registry refused the requester's credentials (or the lack of them): for a pull, and for an image already on the
    /// provider that another owner pulled with credentials of their own.
    /// </summary>
    ImageAccessDenied,
    /// <summary>The image's registry is, or resolves to, an address the provider does not pull from (loopback, private, link-local, its own).</summary>
    RegistryBlocked,
    /// <summary>The image does not carry the digest the deployment pinned.</summary>
    DigestMismatch,
    /// <summary>The Docker engine cannot be reached.</summary>
    DockerUnavailable,
    /// <summary>The Docker engine refused or failed an operation.</summary>
    DockerError,
    /// <summary>No such deployment for this owner (a deployment of another owner is reported the same way).</summary>
    NotFound,
    /// <summary>The runtime was used before <c>StartAsync</c> completed, or after it was disposed.</summary>
    NotStarted,
    /// <summary>Another process holds the provider state folder.</summary>
    StateLocked,
    /// <summary>The egress firewall cannot be installed (no permission, no iptables): deploys are refused until it is.</summary>
    EgressUnavailable,
    /// <summary>A deployment record could not be written (disk full, read-only, permissions); the old record is intact.</summary>
    StateWriteFailed,
    /// <summary>A writable root was asked for, and the engine cannot cap a writable layer (the provider did not allow unbounded ones).</summary>
    WritableUnbounded,
    /// <summary>The image is larger than the provider's image size cap.</summary>
    ImageTooLarge,
    /// <summary>The volume is mounted by a deployment (named in the message); stop it first.</summary>
    VolumeInUse,
    /// <summary>The provider cannot make volumes (no loop devices: <c>/dev/loop-control</c> is absent, or the tools are missing).</summary>
    VolumesUnavailable,
    /// <summary>An update's new container did not become ready (or exited); the previous one keeps serving.</summary>
    UpdateFailed,
}

/// <summary>The one exception type of the runtime layer: a machine-readable code and a reason a person can act on.</summary>
public sealed class RuntimeException : Exception
{
    public RuntimeException(RuntimeErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException) => Code = code;

    public RuntimeErrorCode Code { get; }

    public override string ToString() => $"{Code}: {Message}";
}

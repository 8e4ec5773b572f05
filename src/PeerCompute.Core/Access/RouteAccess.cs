using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Access;

/// <summary>
/// A deployment's access rule as the provider hands it to the gateway with the route: the mode, the owner whose
/// signed links open a private route, and the basic user with the password's hash (never the password).
/// </summary>
public sealed record RouteAccess(AccessMode Mode, PeerId? Owner = null, string? BasicUser = null, string? BasicPasswordHash = null)
{
    public const int MaxBasicUserLength = 64;

    public static RouteAccess Public { get; } = new(AccessMode.Public);

    /// <summary>Why this rule cannot be enforced as it stands (the gateway refuses such a route rather than serve it open), or null.</summary>
    public string? Problem() => Mode switch
    {
        AccessMode.Public => null,
        AccessMode.Private when Owner is null => "a private route needs its owner's peer id",
        AccessMode.Private => null,
        AccessMode.Basic when !IsValidBasicUser(BasicUser) => $"a basic route needs a user name of 1-{MaxBasicUserLength} printable characters without ':'",
        AccessMode.Basic when !PasswordHash.TryParse(BasicPasswordHash, out _, out string? why) => $"the basic route's password hash is unusable: {why}",
        AccessMode.Basic => null,
        _ => $"unknown access mode {(byte)Mode}",
    };

    /// <summary>A basic-auth user name: printable ASCII, no ':' (it separates user and password on the wire).</summary>
    public static bool IsValidBasicUser(string? user) =>
        user is { Length: > 0 and <= MaxBasicUserLength } && user.All(c => c is > ' ' and < '\x7f' and not ':');

    // The hash stays out of logs.
    public override string ToString() => $"RouteAccess {{ Mode = {Mode.ToText()}, Owner = {Owner}, BasicUser = {BasicUser} }}";
}

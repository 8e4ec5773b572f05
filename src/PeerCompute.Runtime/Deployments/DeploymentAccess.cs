using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Deployments;

/// <summary>A deployment's access rule as the gateway is told it: its mode, its owner (whose links open it) and its basic login.</summary>
internal static class DeploymentAccess
{
    /// <summary>
    /// The rule of <paramref name="record"/>. An owner that is not a PeerId leaves a private rule without an owner, which
    /// the gateway refuses to serve rather than serve open.
    /// </summary>
    public static RouteAccess For(DeploymentRecord record) => record.Spec.Access switch
    {
        AccessMode.Public => RouteAccess.Public,
        var mode => new RouteAccess(mode, PeerId.TryParse(record.Owner, out var owner) ? owner : null, record.Spec.BasicUser, record.Spec.BasicPasswordHash),
    };
}

using System.Security.Cryptography;
using System.Text;
using PeerCompute.Runtime.Engine;

namespace PeerCompute.Runtime.Network;

/// <summary>
/// The network of one owner's app: a bridge of its own where the app's services reach each other (by service name,
/// the engine's DNS answering their aliases) and nothing else is attached. The engine keeps bridges apart, and the
/// app's egress chain (<see cref="Firewall.EgressGate"/>) rejects private ranges as on the shared bridge.
/// </summary>
internal static class AppNetwork
{
    /// <summary>Names start with this; the rest is a hash, since a Linux bridge name stops at 15 characters.</summary>
    public const string Prefix = "pca";

    /// <summary><c>pca</c> + 12 hex digits of a hash of the runtime instance, the owner and the app: 15 characters.</summary>
    public static string NameFor(string instance, string owner, string app)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{instance}\n{owner}\n{app}"));
        return Prefix + Convert.ToHexStringLower(hash)[..12];
    }

    public static async Task EnsureAsync(IContainerEngine engine, string name, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var existing = await engine.FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                await engine.CreateNetworkAsync(new NetworkDefinition(name, labels, InterContainer: true), cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.DockerError)
            {
                // Two services of the app deployed at once: the second create fails on the bridge name.
                if (await engine.FindNetworkAsync(name, cancellationToken).ConfigureAwait(false) is null)
                    throw;
            }
            return;
        }
        if (!existing.IsBridge || existing.InterContainerTrafficOff)
            throw new RuntimeException(RuntimeErrorCode.DockerError,
                $"network {name} exists but is not a bridge with inter-container communication on; remove it (docker network rm {name}) and deploy again");
    }
}

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;

namespace PeerCompute.Daemon.Commands;

internal sealed class DaemonCommands
{
    /// <summary>Print the provider's PeerId (from $PEERCOMPUTE_HOME/identity.key, created by 'peerctl init').</summary>
    [Command("id")]
    public void Id()
    {
        try
        {
            using var identity = IdentityStore.Load(PeerComputeHome.Resolve());
            Console.Out.WriteLine(identity.PeerId.ToString());
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}

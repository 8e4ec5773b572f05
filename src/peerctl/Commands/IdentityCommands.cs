using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

internal sealed class IdentityCommands
{
    /// <summary>Create this machine's identity ($PEERCOMPUTE_HOME/identity.key, default ~/.peercompute).</summary>
    /// <param name="force">Replace an existing identity (its PeerId is lost).</param>
    /// <param name="json">Print {"peerId","home"} as JSON.</param>
    [Command("init")]
    public void Init(bool force = false, bool json = false)
    {
        var home = PeerComputeHome.Resolve();
        using var identity = Wrap(() => IdentityStore.Create(home, force));
        if (json)
            JsonOut.Write(new IdOutput(identity.PeerId.ToString(), home.Path), CliJsonContext.Default.IdOutput);
        else
            Console.Out.WriteLine($"Created identity {identity.PeerId}\nKey: {home.IdentityKeyFile}");
    }

    /// <summary>Print this machine's PeerId (plain: the id alone on one line).</summary>
    /// <param name="json">Print {"peerId","home"} as JSON.</param>
    [Command("id")]
    public void Id(bool json = false)
    {
        var home = PeerComputeHome.Resolve();
        using var identity = Wrap(() => IdentityStore.Load(home));
        if (json)
            JsonOut.Write(new IdOutput(identity.PeerId.ToString(), home.Path), CliJsonContext.Default.IdOutput);
        else
            Console.Out.WriteLine(identity.PeerId.ToString());
    }

    private static PeerIdentity Wrap(Func<PeerIdentity> action)
    {
        try
        {
            return action();
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}

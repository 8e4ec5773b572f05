using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
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

    /// <summary>
    /// Print a one-line invite for this identity (its PeerId, a name and addresses, signed with its key), for a provider to
    /// trust you: they run peerctl peers add INVITE on their machine.
    /// </summary>
    /// <param name="name">The name to suggest to the other side (default: none).</param>
    /// <param name="addr">An address where this machine can be reached (a multiaddr); repeat for several. Usually none: a user only dials out.</param>
    /// <param name="expires">How long the invite is valid: 30m, 12h, 7d (default 7d, at most 365d).</param>
    /// <param name="json">Print {"invite","peerId","name","addrs","expires"} as JSON.</param>
    [Command("invite")]
    public void Invite(string? name = null, RepeatedOption? addr = null, string? expires = null, bool json = false)
    {
        var lifetime = InviteCli.ParseLifetime(expires);
        if (name is not null && !Core.Trust.TrustStore.IsValidName(name))
            throw new UsageException($"--name {name}: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.");
        var addresses = new List<Multiaddr>();
        foreach (string text in addr?.Values ?? [])
        {
            if (!Multiaddr.TryParse(text, out var address, out string? error))
                throw new UsageException($"--addr {text}: not a valid multiaddr: {error}.");
            addresses.Add(address);
        }
        using var identity = Wrap(() => IdentityStore.Load(PeerComputeHome.Resolve()));
        Core.Trust.Invite invite;
        try
        {
            invite = Core.Trust.Invite.Create(identity, name, addresses, DateTimeOffset.UtcNow, lifetime);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException($"Cannot make an invite: {ex.Message}");
        }
        InviteCli.Print(invite, json, "Send it to the provider; they run on their machine: peerctl peers add <invite>. Add them here with their invite (peercomputed invite on the provider): peerctl peers add <their invite>.");
    }

    private static PeerIdentity Wrap(Func<PeerIdentity> action)
    {
        try
        {
            return action();
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message, code: "local_setup");
        }
    }
}

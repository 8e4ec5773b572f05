using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Core.Multiformats;
using PeerCompute.Ctl.Client;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>The trust list: the peers this machine talks to (peerctl) or serves (peercomputed).</summary>
internal sealed class PeersCommands
{
    private readonly TrustStore _store = new(PeerComputeHome.Resolve());

    /// <summary>
    /// Trust a peer, from its invite or its id.
    /// Examples: peerctl peers add pcinvite1.…
    /// peerctl peers add 12D3KooW... --name maya --addr /ip4/192.168.1.20/tcp/9000
    /// </summary>
    /// <param name="peerId">INVITE|PEER-ID: The peer's invite (pcinvite1.…, from 'peercomputed invite' or 'peerctl invite' on that machine), or its id as printed by 'peerctl id' there.</param>
    /// <param name="name">A short name to use instead of the id (e.g. with --peer); for an invite, default: the name it suggests.</param>
    /// <param name="addr">Where to reach it (a multiaddr); repeat for several. Without it, a 3 s mDNS discovery fills them in.</param>
    /// <param name="noDiscover">Without --addr, add no addresses instead of looking on the local network.</param>
    /// <param name="verify">Dial the peer once at its addresses first and add it only if it proves to be that id (a typo in an id's last characters still makes a valid id).</param>
    [Command("add")]
    public async Task Add([Argument] string peerId, string? name = null, RepeatedOption? addr = null, bool noDiscover = false, bool verify = false, CancellationToken cancellationToken = default)
    {
        if (Invite.LooksLikeInvite(peerId))
        {
            await AddInviteAsync(peerId.Trim(), name, addr, cancellationToken).ConfigureAwait(false);
            return;
        }
        IReadOnlyList<string> addrs = addr?.Values ?? [];
        if (addrs.Count == 0 && !noDiscover && PeerId.TryParse(peerId, out var id))
        {
            // No --addr: look for the peer on the local network first (mDNS); finding it is not what trusts it, this command is.
            var found = await DiscoverCommands.FindAsync(PeerComputeHome.Resolve(), DiscoverCommands.DefaultTimeout, cancellationToken).ConfigureAwait(false);
            addrs = [.. found.Where(p => p.PeerId == id).SelectMany(p => p.Addresses).Select(a => a.ToString()).Distinct()];
            Console.Out.WriteLine(addrs.Count == 0
                ? $"Not found on the local network within {DiscoverCommands.DefaultTimeout.TotalSeconds} s; adding without addresses (add them later: peerctl peers edit {name ?? id.ToString()} --addr /ip4/HOST/tcp/9000)."
                : $"Found on the local network (mDNS): {string.Join(", ", addrs)}");
        }
        if (verify)
            await VerifyAsync(peerId, addrs, cancellationToken).ConfigureAwait(false);
        TrustedPeer peer;
        try
        {
            peer = await _store.AddAsync(peerId, name, addrs, cancellationToken).ConfigureAwait(false);
        }
        catch (TrustStoreException ex) when (PeerId.TryParse(peerId.Trim(), out var known) && _store.Find(known.ToString()) is { } existing)
        {
            // Already trusted: say how to change it, with what the user typed.
            string changes = (name is null ? "" : $" --name {name}") + string.Concat(addrs.Select(a => $" --addr {a}"));
            throw new CliException(changes.Length == 0 ? ex.Message : $"{ex.Message} Change it with: peerctl peers edit {existing.Name ?? existing.PeerId}{changes}");
        }
        catch (TrustStoreException ex)
        {
            throw new CliException(ex.Message);
        }
        Console.Out.WriteLine($"Trusted {peer.PeerId}{(peer.Name is null ? "" : $" as '{peer.Name}'")}");
    }

    /// <summary>Dials <paramref name="peerIdText"/> at <paramref name="addrs"/>: the Noise handshake proves who answers there.</summary>
    private static async Task VerifyAsync(string peerIdText, IReadOnlyList<string> addrs, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerIdText.Trim(), out var id))
            throw new CliException($"'{peerIdText}' is not a valid peer id (expected 12D3KooW…, as printed by 'peerctl id').");
        if (addrs.Count == 0)
            throw new UsageException("--verify dials the peer: give its address with --addr (none was found on the local network).");
        var targets = new List<Multiaddr>();
        foreach (string text in addrs)
        {
            if (!Multiaddr.TryParse(text, out var address, out string? error))
                throw new CliException($"'{text}' is not a valid multiaddr: {error}.");
            targets.Add(address.WithPeerId(id));
        }
        var home = PeerComputeHome.Resolve();
        PeerIdentity identity;
        try
        {
            identity = IdentityStore.Load(home);
        }
        catch (IdentityException ex)
        {
            throw new CliException($"--verify dials with this machine's identity: {ex.Message}");
        }
        using (identity)
        {
            ProviderSession session;
            try
            {
                session = await ProviderSession.ConnectAsync(new ProviderTarget(id, id.ToString(), targets), identity, VerifyTimeout, cancellationToken, trusted: false).ConfigureAwait(false);
            }
            catch (CliException ex)
            {
                throw new CliException($"--verify: {ex.Message} Nothing was added.");
            }
            await using var _ = session;
            Console.Error.WriteLine($"Verified: {id} answered at {session.Target.Addrs[0].WithoutPeerId()}{(session.Via == "direct" ? "" : $" ({session.Via})")}.");
        }
    }

    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Change a trusted peer's name or addresses in place (its id stays).
    /// Examples: peerctl peers edit maya --addr /ip4/192.168.1.21/tcp/9000
    /// peerctl peers edit 12D3KooW... --name maya
    /// </summary>
    /// <param name="peer">PEER: Its name or peer id.</param>
    /// <param name="name">The new name ('' removes it).</param>
    /// <param name="addr">Where to reach it (a multiaddr), replacing all its addresses; repeat for several.</param>
    /// <param name="json">Print the edited entry {"peerId","name","addrs","addedAt"} as JSON.</param>
    [Command("edit")]
    public async Task Edit([Argument] string peer, string? name = null, RepeatedOption? addr = null, bool json = false, CancellationToken cancellationToken = default)
    {
        if (name is null && addr is null)
            throw new UsageException($"Nothing to change: give --name and/or --addr. E.g. peerctl peers edit {peer} --addr /ip4/HOST/tcp/9000");
        var edited = await Run(() => _store.EditAsync(peer, name, addr?.Values, cancellationToken)).ConfigureAwait(false);
        if (json)
        {
            JsonOut.Write(edited, CliJsonContext.Default.TrustedPeer);
            return;
        }
        Console.Out.WriteLine($"Changed {edited.PeerId}: name {(edited.Name is null ? "none" : $"'{edited.Name}'")}, addresses {(edited.Addrs.Count == 0 ? "none" : string.Join(", ", edited.Addrs))}");
    }

    /// <summary>Verifies the invite (signature, expiry) before anything is written, then adds its peer with its addresses.</summary>
    private async Task AddInviteAsync(string text, string? name, RepeatedOption? addr, CancellationToken cancellationToken)
    {
        if (addr is { Values.Length: > 0 })
            throw new UsageException("--addr goes with a PeerId: an invite carries its own addresses (ask for a new invite if they changed).");
        if (!Invite.TryParse(text, DateTimeOffset.UtcNow, out var invite, out _, out string? reason))
            throw new CliException($"Refused the invite, nothing was added: {reason}.");
        if (OwnPeerId() == invite.PeerId)
            throw new CliException($"This is this machine's own invite ({invite.PeerId}): send it to the other side, and add theirs here.");
        string? chosen = name ?? invite.Name;
        TrustedPeer peer;
        try
        {
            peer = await _store.AddAsync(invite.PeerId.ToString(), chosen, [.. invite.Addresses.Select(a => a.ToString())], cancellationToken).ConfigureAwait(false);
        }
        catch (TrustStoreException ex)
        {
            throw new CliException(name is null && invite.Name is not null && ex.Message.Contains($"'{invite.Name}'", StringComparison.Ordinal)
                ? $"{ex.Message} Choose another with --name."
                : ex.Message);
        }
        Console.Out.WriteLine($"Trusted {peer.PeerId}{(peer.Name is null ? "" : $" as '{peer.Name}'")} from its invite ({(peer.Addrs.Count == 0 ? "no addresses" : string.Join(", ", peer.Addrs))})");
        Console.Error.WriteLine("This trusts them on this machine only; for them to trust you, send them your invite (peerctl invite, or peercomputed invite on a provider).");
    }

    private static PeerId? OwnPeerId()
    {
        try
        {
            using var identity = IdentityStore.Load(PeerComputeHome.Resolve());
            return identity.PeerId;
        }
        catch (IdentityException)
        {
            return null; // no identity here yet: nothing to compare with
        }
    }

    /// <summary>List trusted peers.</summary>
    /// <param name="json">Print {"peers":[{"peerId","name","addrs","addedAt"}]} as JSON.</param>
    [Command("list")]
    public void List(bool json = false)
    {
        var peers = Run(() => _store.List());
        if (json)
        {
            JsonOut.Write(new PeersOutput(peers), CliJsonContext.Default.PeersOutput);
            return;
        }
        if (peers.Count == 0)
        {
            Console.Out.WriteLine("No trusted peers. Add one with: peerctl peers add <peer-id> --name NAME");
            return;
        }
        int nameWidth = Math.Max(4, peers.Max(p => p.Name?.Length ?? 1));
        Console.Out.WriteLine($"{"NAME".PadRight(nameWidth)}  {"PEER ID",-52}  ADDRESSES");
        foreach (var p in peers)
            Console.Out.WriteLine($"{(p.Name ?? "-").PadRight(nameWidth)}  {p.PeerId,-52}  {(p.Addrs.Count == 0 ? "-" : string.Join(", ", p.Addrs))}");
    }

    /// <summary>Stop trusting a peer.</summary>
    /// <param name="peer">PEER: Its name or peer id.</param>
    [Command("remove")]
    public async Task Remove([Argument] string peer, CancellationToken cancellationToken = default)
    {
        var removed = await Run(() => _store.RemoveAsync(peer, cancellationToken)).ConfigureAwait(false);
        Console.Out.WriteLine($"Removed {removed.PeerId}{(removed.Name is null ? "" : $" ('{removed.Name}')")}");
    }

    private static T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (TrustStoreException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    private static async Task<T> Run<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (TrustStoreException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}

using System.Text.Json;
using System.Text.RegularExpressions;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Storage;

namespace PeerCompute.Core.Trust;

/// <summary>A trust list problem the user must fix; the message names the file or the input.</summary>
public sealed class TrustStoreException(string message) : Exception(message);

/// <summary>
/// The trust list, <c>$PEERCOMPUTE_HOME/trusted_peers.json</c>. Changes are read-modify-write under a lock file
/// and written atomically, so two processes changing it at once both land and a crash never leaves half a file.
/// A corrupt file is reported, never replaced.
/// </summary>
public sealed partial class TrustStore(PeerComputeHome home)
{
    public const int MaxFileBytes = 4 * 1024 * 1024;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    public string FilePath => home.TrustedPeersFile;

    public IReadOnlyList<TrustedPeer> List() => Read().Peers;

    public bool IsTrusted(PeerId peerId)
    {
        string id = peerId.ToString();
        return List().Any(p => p.PeerId == id);
    }

    /// <summary>Finds a peer by name or PeerId (either form).</summary>
    public TrustedPeer? Find(string nameOrId)
    {
        var peers = List();
        var byName = peers.FirstOrDefault(p => string.Equals(p.Name, nameOrId, StringComparison.Ordinal));
        if (byName is not null)
            return byName;
        return PeerId.TryParse(nameOrId, out var id) ? peers.FirstOrDefault(p => p.PeerId == id.ToString()) : null;
    }

    public async Task<TrustedPeer> AddAsync(string peerIdText, string? name, IEnumerable<string> addrs, CancellationToken cancellationToken = default)
    {
        if (!PeerId.TryParse(peerIdText?.Trim(), out var peerId))
            throw new TrustStoreException($"'{peerIdText}' is not a valid peer id (expected 12D3KooW…, as printed by 'peerctl id').");
        if (name is not null)
            ValidateName(name);
        var parsed = ParseAddrs(peerId, addrs);

        var entry = new TrustedPeer(peerId.ToString(), name, parsed, DateTimeOffset.UtcNow);
        await UpdateAsync(peers =>
        {
            if (peers.FirstOrDefault(p => p.PeerId == entry.PeerId) is { } existing)
                throw new TrustStoreException($"Peer {entry.PeerId} is already trusted{(existing.Name is null ? "" : $" as '{existing.Name}'")}.");
            if (name is not null && peers.Any(p => p.Name == name))
                throw new TrustStoreException($"The name '{name}' is already used by another peer.");
            return [.. peers, entry];
        }, cancellationToken).ConfigureAwait(false);
        return entry;
    }

    /// <summary>
    /// Changes a trusted peer's name (<paramref name="newName"/>; "" removes it) and/or replaces its addresses
    /// (<paramref name="addrs"/>), in place: its id and when it was added stay.
    /// </summary>
    public async Task<TrustedPeer> EditAsync(string nameOrId, string? newName, IReadOnlyList<string>? addrs, CancellationToken cancellationToken = default)
    {
        if (newName is { Length: > 0 })
            ValidateName(newName);
        TrustedPeer? edited = null;
        await UpdateAsync(peers =>
        {
            var current = peers.FirstOrDefault(p => p.Name == nameOrId)
                ?? (PeerId.TryParse(nameOrId, out var id) ? peers.FirstOrDefault(p => p.PeerId == id.ToString()) : null)
                ?? throw new TrustStoreException($"No trusted peer named or with id '{nameOrId}'. See: peerctl peers list");
            if (newName is { Length: > 0 } && peers.Any(p => p.Name == newName && !ReferenceEquals(p, current)))
                throw new TrustStoreException($"The name '{newName}' is already used by another peer.");
            edited = current with
            {
                Name = newName is null ? current.Name : newName.Length == 0 ? null : newName,
                Addrs = addrs is null ? current.Addrs : ParseAddrs(PeerId.Parse(current.PeerId), addrs),
            };
            return [.. peers.Select(p => ReferenceEquals(p, current) ? edited : p)];
        }, cancellationToken).ConfigureAwait(false);
        return edited!;
    }

    /// <summary>Checks each address and keeps it in its stored form (without the peer's own /p2p part).</summary>
    private static List<string> ParseAddrs(PeerId peerId, IEnumerable<string> addrs)
    {
        var parsed = new List<string>();
        foreach (string addr in addrs)
        {
            if (!Multiaddr.TryParse(addr, out var ma, out string? error))
                throw new TrustStoreException($"'{addr}' is not a valid multiaddr: {error}.");
            PeerId? named;
            if (ma.IsRelayed)
            {
                // <relay's TCP address>/p2p/<relay>/p2p-circuit[/p2p/<peer>]: the peer is the part after the circuit.
                if (!ma.TryGetRelay(out var relay, out var relayId, out named) || !relay.TryGetTcpTarget(out _, out _))
                    throw new TrustStoreException($"'{addr}' is not a relayed TCP address (expected e.g. /ip4/203.0.113.7/tcp/4001/p2p/<relay id>/p2p-circuit/p2p/{peerId}).");
                if (relayId == peerId)
                    throw new TrustStoreException($"'{addr}' names {peerId} as its own relay.");
            }
            else
            {
                if (!ma.TryGetTcpTarget(out _, out _))
                    throw new TrustStoreException($"'{addr}' is not a TCP address (expected e.g. /ip4/192.0.2.10/tcp/9000, or a relayed one ending in /p2p-circuit).");
                named = ma.PeerId;
            }
            if (named is not null && named != peerId)
                throw new TrustStoreException($"'{addr}' names peer {named}, not {peerId}.");
            parsed.Add((named is null ? ma : ma.WithoutPeerId()).ToString());
        }
        return parsed;
    }

    /// <summary>Removes by name or PeerId and returns the removed entry.</summary>
    public async Task<TrustedPeer> RemoveAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        TrustedPeer? removed = null;
        await UpdateAsync(peers =>
        {
            removed = peers.FirstOrDefault(p => p.Name == nameOrId)
                ?? (PeerId.TryParse(nameOrId, out var id) ? peers.FirstOrDefault(p => p.PeerId == id.ToString()) : null)
                ?? throw new TrustStoreException($"No trusted peer named or with id '{nameOrId}'. See: peerctl peers list");
            return [.. peers.Where(p => !ReferenceEquals(p, removed))];
        }, cancellationToken).ConfigureAwait(false);
        return removed!;
    }

    /// <summary>A name the trust list accepts (<see cref="ValidateName"/> says why not).</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name) && !PeerId.TryParse(name, out _);

    public static void ValidateName(string name)
    {
        if (!NamePattern().IsMatch(name))
            throw new TrustStoreException($"'{name}' is not a valid name: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.");
        if (PeerId.TryParse(name, out _))
            throw new TrustStoreException($"'{name}' looks like a peer id; choose a short name instead.");
    }

    private async Task UpdateAsync(Func<IReadOnlyList<TrustedPeer>, IReadOnlyList<TrustedPeer>> change, CancellationToken cancellationToken)
    {
        home.EnsureExists();
        using var fileLock = await FileLock.AcquireAsync(FilePath + ".lock", LockTimeout, cancellationToken).ConfigureAwait(false);
        var current = Read();
        var updated = new TrustFile(TrustFile.CurrentVersion, change(current.Peers));
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(updated, TrustJsonContext.Default.TrustFile);
        await AtomicFile.WriteAsync(FilePath, json, AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
    }

    private TrustFile Read()
    {
        FileInfo info = new(FilePath);
        if (!info.Exists)
            return new TrustFile(TrustFile.CurrentVersion, []);
        if (info.Length > MaxFileBytes)
            throw new TrustStoreException($"The trust list {FilePath} is larger than {MaxFileBytes / (1024 * 1024)} MiB; it is not a trust list. Fix or move it aside.");
        byte[] bytes = File.ReadAllBytes(FilePath);
        TrustFile? file;
        try
        {
            file = JsonSerializer.Deserialize(bytes, TrustJsonContext.Default.TrustFile);
        }
        catch (JsonException ex)
        {
            throw Corrupt($"not valid JSON ({ex.Message})");
        }
        if (file is null)
            throw Corrupt("empty");
        if (file.Version != TrustFile.CurrentVersion)
            throw Corrupt($"unsupported version {file.Version}");
        foreach (var peer in file.Peers)
        {
            if (peer is null || !PeerId.TryParse(peer.PeerId, out _))
                throw Corrupt($"entry with an invalid peer id '{peer?.PeerId}'");
            // Addresses are dialled with Multiaddr.Parse later: a bad one is reported here, naming its entry.
            foreach (string addr in peer.Addrs)
            {
                if (!Multiaddr.TryParse(addr, out _, out string? error))
                    throw Corrupt($"entry {peer.PeerId} has an invalid address '{addr}' ({error})");
            }
        }
        return file;
    }

    private TrustStoreException Corrupt(string why) =>
        new($"The trust list {FilePath} is corrupt: {why}. It was left untouched; fix it by hand or move it aside (peerctl will then start an empty list).");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}

using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// Which provider owns each hostname tag, and the hostnames it served last, kept in
/// <c>$PEERCOMPUTE_HOME/gateway/hostnames.json</c>. The first provider to present a tag keeps it for good: a key that
/// happens to hash to the same tag is refused even while the owner is offline, and the owner's last hostnames answer
/// 502 (offline) rather than 404 while it is away. Writes are atomic; a corrupt file stops the gateway instead of
/// silently forgetting who owns what.
/// </summary>
public sealed class HostnameBindings
{
    public const string FileName = "hostnames.json";

    private readonly string? _path;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<string, Binding> _tags;
    private int _version;

    private HostnameBindings(string? path, Dictionary<string, Binding> tags)
    {
        _path = path;
        _tags = tags;
    }

    /// <summary>Bindings kept in memory only (tests, or a gateway without a state folder).</summary>
    public static HostnameBindings InMemory() => new(null, new Dictionary<string, Binding>(StringComparer.Ordinal));

    /// <summary>Loads (or starts) the bindings in <paramref name="folder"/>, creating it with mode 0700.</summary>
    public static HostnameBindings Load(string folder)
    {
        if (!Directory.Exists(folder))
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(folder);
            else
                Directory.CreateDirectory(folder, PeerComputeHome.FolderMode);
        }
        string path = Path.Combine(folder, FileName);
        var tags = new Dictionary<string, Binding>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            BindingsFile? file;
            try
            {
                file = JsonSerializer.Deserialize(File.ReadAllBytes(path), TunnelJsonContext.Default.BindingsFile);
            }
            catch (JsonException e)
            {
                throw new TunnelException(TunnelErrorKind.State, $"{path} is not a valid hostname bindings file ({e.Message}). Fix or move it aside; it records which provider owns which hostnames.");
            }
            foreach (var (tag, entry) in file?.Tags ?? [])
            {
                if (entry is null || !PeerId.TryParse(entry.PeerId, out var peer))
                    throw new TunnelException(TunnelErrorKind.State, $"{path}: tag {tag} names an invalid peer id '{entry?.PeerId}'.");
                tags[tag] = new Binding(peer, [.. entry.Routes ?? []], entry.FirstSeen, entry.LastSeen);
            }
        }
        return new HostnameBindings(path, tags);
    }

    public int Count
    {
        get { lock (_lock) return _tags.Count; }
    }

    /// <summary>The owner of a tag, if any.</summary>
    public PeerId? OwnerOf(string tag)
    {
        lock (_lock)
            return _tags.TryGetValue(tag, out var binding) ? binding.Owner : null;
    }

    /// <summary>True when the tag's owner served <paramref name="label"/> when it was last connected.</summary>
    public bool WasServed(string tag, string label)
    {
        lock (_lock)
            return _tags.TryGetValue(tag, out var binding) && binding.Routes.Contains(label);
    }

    /// <summary>Binds <paramref name="tag"/> to <paramref name="peer"/> unless another peer holds it; records the visit.</summary>
    public async ValueTask<bool> TryClaimAsync(string tag, PeerId peer, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = DateTimeOffset.UtcNow;
            if (_tags.TryGetValue(tag, out var existing))
            {
                if (existing.Owner != peer)
                    return false;
                _tags[tag] = existing with { LastSeen = now };
            }
            else
            {
                _tags[tag] = new Binding(peer, [], now, now);
            }
            _version++;
        }
        await SaveAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Records the hostnames the tag's owner serves now.</summary>
    public async ValueTask SetRoutesAsync(string tag, IReadOnlyCollection<string> labels, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_tags.TryGetValue(tag, out var existing) || existing.Routes.SetEquals(labels))
                return;
            _tags[tag] = existing with { Routes = [.. labels] };
            _version++;
        }
        await SaveAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SaveAsync(CancellationToken cancellationToken)
    {
        if (_path is null)
            return;
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            BindingsFile file;
            lock (_lock)
            {
                file = new BindingsFile(1, _tags.ToDictionary(
                    kv => kv.Key,
                    kv => new BindingEntry(kv.Value.Owner.ToString(), [.. kv.Value.Routes.Order(StringComparer.Ordinal)], kv.Value.FirstSeen, kv.Value.LastSeen),
                    StringComparer.Ordinal));
            }
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(file, TunnelJsonContext.Default.BindingsFile);
            await AtomicFile.WriteAsync(_path, json, AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private sealed record Binding(PeerId Owner, HashSet<string> Routes, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);
}

internal sealed record BindingsFile(int Version, Dictionary<string, BindingEntry> Tags);

internal sealed record BindingEntry(string PeerId, string[]? Routes, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BindingsFile))]
internal sealed partial class TunnelJsonContext : JsonSerializerContext;

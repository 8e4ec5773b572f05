using System.Text.Json;
using PeerCompute.Core.Identity;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// Which provider owns each hostname tag, and the hostnames it served last, kept in
/// <c>$PEERCOMPUTE_HOME/gateway/hostnames.json</c>. The first provider to present a tag keeps it: a key that happens to
/// hash to the same tag is refused even while the owner is offline, and the owner's last hostnames answer 502
/// (offline) rather than 404 while it is away.
/// </summary>
/// <remarks>
/// <para>Memory is the truth and changes at once: a handshake or a route update never waits for the disk. Each change
/// marks its tag dirty; one background writer appends the dirty tags' current state as JSON lines to
/// <c>hostnames.journal</c> (fsynced per batch) and, every <see cref="CompactAfter"/> lines, writes the whole table
/// to <c>hostnames.json</c> atomically and empties the journal. The queue is the set of dirty tags, so it is bounded
/// by the table and a burst of reconnects coalesces. <see cref="FlushAsync"/> (on shutdown) writes what is pending.</para>
/// <para>At most <see cref="MaxBindings"/> tags are kept: a new tag beyond it makes the gateway forget the tag whose
/// provider was seen longest ago and is not connected now (logged). Loading reads the snapshot, then replays the
/// journal; a journal line that cannot be read (a torn last line after a crash, garbage) is skipped and reported,
/// the others still apply. A corrupt snapshot stops the gateway instead of silently forgetting who owns what.</para>
/// </remarks>
public sealed class HostnameBindings : IAsyncDisposable
{
    public const string FileName = "hostnames.json";
    public const string JournalName = "hostnames.journal";

    /// <summary>Tags kept by default (<c>--max-hostname-bindings</c>).</summary>
    public const int DefaultMaxBindings = 20_000;

    private readonly IBindingsStore? _store;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Binding> _tags;
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<string> _warnings;
    private Task _writer = Task.CompletedTask;
    private TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _writing;
    private int _journalLines;

    private HostnameBindings(IBindingsStore? store, Dictionary<string, Binding> tags, int maxBindings, List<string> warnings, int journalLines)
    {
        _store = store;
        _tags = tags;
        MaxBindings = maxBindings;
        _warnings = warnings;
        _journalLines = journalLines;
        _flushed.SetResult();
    }

    /// <summary>Tags kept at most; a new one beyond it evicts the one unused for longest.</summary>
    public int MaxBindings { get; }

    /// <summary>Journal lines after which the whole table is written as a snapshot and the journal emptied.</summary>
    public int CompactAfter => Math.Max(1024, Count);

    /// <summary>True for a tag whose provider is connected now: such a tag is never evicted (set by the tunnel server).</summary>
    public Func<string, bool> InUse { get; set; } = static _ => false;

    /// <summary>Where eviction and persistence problems are reported (set by the gateway once it has a logger).</summary>
    public Action<string> Report { get; set; } = static _ => { };

    /// <summary>What loading found wrong but survived (unreadable journal lines, bindings beyond the bound).</summary>
    public IReadOnlyList<string> LoadWarnings => _warnings;

    /// <summary>Bindings kept in memory only (tests, or a gateway without a state folder).</summary>
    public static HostnameBindings InMemory(int maxBindings = DefaultMaxBindings) =>
        new(null, new Dictionary<string, Binding>(StringComparer.Ordinal), maxBindings, [], 0);

    /// <summary>Loads (or starts) the bindings in <paramref name="folder"/>, creating it with mode 0700.</summary>
    public static HostnameBindings Load(string folder, int maxBindings = DefaultMaxBindings) =>
        Load(new FileBindingsStore(folder), maxBindings);

    /// <summary>Loads through <paramref name="store"/> (the seam tests use to stand in for the disk).</summary>
    internal static HostnameBindings Load(IBindingsStore store, int maxBindings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBindings, 1);
        var tags = new Dictionary<string, Binding>(StringComparer.Ordinal);
        var warnings = new List<string>();
        byte[]? snapshot = store.ReadSnapshot();
        if (snapshot is not null)
        {
            BindingsFile? file;
            try
            {
                file = JsonSerializer.Deserialize(snapshot, TunnelJsonContext.Default.BindingsFile);
            }
            catch (JsonException e)
            {
                throw new TunnelException(TunnelErrorKind.State, $"{store.SnapshotPath} is not a valid hostname bindings file ({e.Message}). Fix or move it aside; it records which provider owns which hostnames.");
            }
            foreach (var (tag, entry) in file?.Tags ?? [])
            {
                if (entry is null || !PeerId.TryParse(entry.PeerId, out var peer))
                    throw new TunnelException(TunnelErrorKind.State, $"{store.SnapshotPath}: tag {tag} names an invalid peer id '{entry?.PeerId}'.");
                tags[tag] = new Binding(peer, [.. entry.Routes ?? []], entry.FirstSeen, entry.LastSeen);
            }
        }
        int journalLines = ReplayJournal(store, tags, warnings);
        var bindings = new HostnameBindings(store, tags, maxBindings, warnings, journalLines);
        lock (bindings._lock)
        {
            while (tags.Count > maxBindings && bindings.EvictLocked() is { } evicted)
                warnings.Add(evicted);
        }
        // A skipped line or an eviction is settled now, so later appends never follow a torn line; a first start
        // writes the (empty) snapshot, so the file is there from the start.
        if (snapshot is null || warnings.Count > 0 || journalLines >= bindings.CompactAfter)
        {
            try
            {
                bindings.CompactAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TunnelException(TunnelErrorKind.State, $"cannot write {store.SnapshotPath} ({e.Message}); the gateway's state folder must be writable.", e);
            }
        }
        bindings._writer = Task.Run(bindings.WriteLoopAsync);
        return bindings;
    }

    private static int ReplayJournal(IBindingsStore store, Dictionary<string, Binding> tags, List<string> warnings)
    {
        byte[]? journal = store.ReadJournal();
        if (journal is null)
            return 0;
        int lines = 0;
        var rest = journal.AsSpan();
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf((byte)'\n');
            bool torn = end < 0;
            var line = torn ? rest : rest[..end];
            rest = torn ? [] : rest[(end + 1)..];
            lines++;
            if (line.Trim((byte)' ').IsEmpty)
                continue;
            string? problem = null;
            try
            {
                var record = JsonSerializer.Deserialize(line, TunnelJournalJsonContext.Default.BindingRecord);
                if (record is null || string.IsNullOrEmpty(record.Tag))
                    problem = "no tag";
                else if (record.Forgotten == true)
                    tags.Remove(record.Tag);
                else if (!PeerId.TryParse(record.PeerId ?? "", out var peer))
                    problem = $"invalid peer id '{record.PeerId}'";
                else
                    tags[record.Tag] = new Binding(peer, [.. record.Routes ?? []], record.FirstSeen ?? DateTimeOffset.UtcNow, record.LastSeen ?? DateTimeOffset.UtcNow);
            }
            catch (JsonException e)
            {
                problem = e.Message;
            }
            if (problem is not null)
                warnings.Add(torn
                    ? $"{store.JournalPath}: the last line was cut short (the gateway stopped while writing it) and is ignored; every earlier line was applied"
                    : $"{store.JournalPath}: line {lines} cannot be read ({problem}) and is skipped; the other lines were applied");
        }
        return lines;
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

    /// <summary>
    /// Binds <paramref name="tag"/> to <paramref name="peer"/> unless another peer holds it; records the visit. Changes
    /// memory only (the disk follows in the background), so it never waits for a write.
    /// </summary>
    public ValueTask<bool> TryClaimAsync(string tag, PeerId peer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string? evicted = null;
        lock (_lock)
        {
            var now = DateTimeOffset.UtcNow;
            if (_tags.TryGetValue(tag, out var existing))
            {
                if (existing.Owner != peer)
                    return ValueTask.FromResult(false);
                _tags[tag] = existing with { LastSeen = now };
            }
            else
            {
                if (_tags.Count >= MaxBindings && (evicted = EvictLocked()) is null)
                {
                    Report($"hostname bindings: cannot bind tag {tag} to provider {peer}: all {MaxBindings} kept tags belong to connected providers (--max-hostname-bindings)");
                    return ValueTask.FromResult(false);
                }
                _tags[tag] = new Binding(peer, [], now, now);
            }
            MarkDirtyLocked(tag);
        }
        if (evicted is not null)
            Report(evicted);
        return ValueTask.FromResult(true);
    }

    /// <summary>Records the hostnames the tag's owner serves now (in memory at once; on disk in the background).</summary>
    public ValueTask SetRoutesAsync(string tag, IReadOnlyCollection<string> labels, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_tags.TryGetValue(tag, out var existing) || existing.Routes.SetEquals(labels))
                return ValueTask.CompletedTask;
            _tags[tag] = existing with { Routes = [.. labels] };
            MarkDirtyLocked(tag);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Completes when every change made before the call is on disk (fsynced).</summary>
    public Task FlushAsync()
    {
        lock (_lock)
            return _dirty.Count == 0 && !_writing ? Task.CompletedTask : _flushed.Task;
    }

    /// <summary>Writes what is pending (waiting at most 10 s for a disk that does not answer), then stops the writer.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await FlushAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Report($"hostname bindings: {_store?.JournalPath} could not be written within 10 s; the latest changes are lost");
        }
        finally
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _writer.ConfigureAwait(false);
        }
    }

    /// <summary>Forgets the tag unused for longest (not connected now); returns the log line, or null when every tag is in use.</summary>
    private string? EvictLocked()
    {
        string? oldest = null;
        Binding? oldestBinding = null;
        foreach (var (tag, binding) in _tags)
        {
            if ((oldestBinding is null || binding.LastSeen < oldestBinding.LastSeen) && !InUse(tag))
            {
                oldest = tag;
                oldestBinding = binding;
            }
        }
        if (oldest is null)
            return null;
        _tags.Remove(oldest);
        MarkDirtyLocked(oldest);
        return $"hostname bindings: forgot tag {oldest} (provider {oldestBinding!.Owner}, last seen {oldestBinding.LastSeen:u}) to make room: at most {MaxBindings} are kept (--max-hostname-bindings); another provider may now claim that tag";
    }

    private void MarkDirtyLocked(string tag)
    {
        if (_store is null)
            return;
        _dirty.Add(tag);
        if (_flushed.Task.IsCompleted)
            _flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another change woke the writer at the same moment.
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var store = _store!;
        while (true)
        {
            try
            {
                await _wake.WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            TaskCompletionSource flushed;
            string[] taken;
            byte[] lines;
            lock (_lock)
            {
                if (_dirty.Count == 0)
                    continue;
                _writing = true;
                flushed = _flushed;
                taken = [.. _dirty];
                lines = RecordsLocked(taken);
                _dirty.Clear();
            }
            try
            {
                await store.AppendJournalAsync(lines, _stopping.Token).ConfigureAwait(false);
                _journalLines += taken.Length;
                if (_journalLines >= CompactAfter)
                    await CompactAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Report($"hostname bindings: cannot write {store.JournalPath} ({e.Message}); the bindings are kept in memory and written again with the next change");
                lock (_lock)
                    _dirty.UnionWith(taken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            lock (_lock)
            {
                _writing = false;
                if (_dirty.Count == 0)
                    flushed.TrySetResult();
                else if (_wake.CurrentCount == 0)
                    _wake.Release();
            }
        }
    }

    /// <summary>The current state of <paramref name="tags"/> as journal lines (a tag no longer bound is written as forgotten).</summary>
    private byte[] RecordsLocked(IEnumerable<string> tags)
    {
        using var buffer = new MemoryStream();
        foreach (string tag in tags)
        {
            var record = _tags.TryGetValue(tag, out var binding)
                ? new BindingRecord(tag, binding.Owner.ToString(), [.. binding.Routes.Order(StringComparer.Ordinal)], binding.FirstSeen, binding.LastSeen, null)
                : new BindingRecord(tag, null, null, null, null, true);
            JsonSerializer.Serialize(buffer, record, TunnelJournalJsonContext.Default.BindingRecord);
            buffer.WriteByte((byte)'\n');
        }
        return buffer.ToArray();
    }

    /// <summary>Writes the whole table as the snapshot, then empties the journal (whose every line the snapshot holds).</summary>
    private async ValueTask CompactAsync(CancellationToken cancellationToken)
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
        await _store!.ReplaceSnapshotAsync(json, cancellationToken).ConfigureAwait(false);
        _journalLines = 0;
    }

    private sealed record Binding(PeerId Owner, HashSet<string> Routes, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);
}

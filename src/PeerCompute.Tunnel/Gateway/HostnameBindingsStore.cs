using System.Text.Json.Serialization;
using PeerCompute.Core.Storage;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>Where <see cref="HostnameBindings"/> keeps its snapshot and journal: the disk, or a stand-in in tests.</summary>
internal interface IBindingsStore
{
    string SnapshotPath { get; }

    string JournalPath { get; }

    /// <summary>The snapshot's bytes, or null when there is none.</summary>
    byte[]? ReadSnapshot();

    /// <summary>The journal's bytes, or null when there is none.</summary>
    byte[]? ReadJournal();

    /// <summary>Appends whole lines to the journal and waits until they are on disk.</summary>
    ValueTask AppendJournalAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken);

    /// <summary>Replaces the snapshot atomically (on disk when it returns), then empties the journal.</summary>
    ValueTask ReplaceSnapshotAsync(ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken);
}

/// <summary>The snapshot and journal as owner-only files in the gateway's state folder.</summary>
internal sealed class FileBindingsStore : IBindingsStore
{
    public FileBindingsStore(string folder)
    {
        if (!Directory.Exists(folder))
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(folder);
            else
                Directory.CreateDirectory(folder, PeerComputeHome.FolderMode);
        }
        SnapshotPath = Path.Combine(folder, HostnameBindings.FileName);
        JournalPath = Path.Combine(folder, HostnameBindings.JournalName);
    }

    public string SnapshotPath { get; }

    public string JournalPath { get; }

    public byte[]? ReadSnapshot() => File.Exists(SnapshotPath) ? File.ReadAllBytes(SnapshotPath) : null;

    public byte[]? ReadJournal() => File.Exists(JournalPath) ? File.ReadAllBytes(JournalPath) : null;

    public async ValueTask AppendJournalAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = AtomicFile.OwnerOnly;
        await using var stream = new FileStream(JournalPath, options);
        await stream.WriteAsync(lines, cancellationToken).ConfigureAwait(false);
        stream.Flush(flushToDisk: true);
    }

    public async ValueTask ReplaceSnapshotAsync(ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken)
    {
        await AtomicFile.WriteAsync(SnapshotPath, snapshot, AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
        if (File.Exists(JournalPath))
        {
            await using var stream = new FileStream(JournalPath, FileMode.Truncate, FileAccess.Write, FileShare.Read);
            stream.Flush(flushToDisk: true);
        }
    }
}

internal sealed record BindingsFile(int Version, Dictionary<string, BindingEntry> Tags);

internal sealed record BindingEntry(string PeerId, string[]? Routes, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);

/// <summary>One journal line: a tag's whole state after a change, or that it was forgotten.</summary>
internal sealed record BindingRecord(string Tag, string? PeerId, string[]? Routes, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, bool? Forgotten);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BindingsFile))]
internal sealed partial class TunnelJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BindingRecord))]
internal sealed partial class TunnelJournalJsonContext : JsonSerializerContext;

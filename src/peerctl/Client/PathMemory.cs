using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Storage;

namespace PeerCompute.Ctl.Client;

/// <summary>What the last hole punch with a provider gave.</summary>
internal sealed record PathRecord(bool HolePunched, DateTimeOffset At);

/// <summary>
/// Remembers, per provider, whether the last hole punch made a direct connection (<c>paths.json</c> in the state folder).
/// Behind a NAT that changes ports a hole punch never works, and waiting for it cost every command seconds: after a
/// failure peerctl goes straight over the relay for <see cref="FailureMemory"/> (the provider still tries in the
/// background; a success is remembered too). Only a hint: a missing, unreadable or concurrently written file is the same
/// as no memory, and nothing depends on it but how long peerctl waits.
/// </summary>
internal sealed class PathMemory(string file)
{
    /// <summary>How long a failed hole punch keeps peerctl from waiting for the next one.</summary>
    public static readonly TimeSpan FailureMemory = TimeSpan.FromHours(1);

    /// <summary>Entries kept at most (the oldest go).</summary>
    private const int MaxEntries = 256;

    public static PathMemory For(PeerComputeHome home) => new(Path.Combine(home.Path, "paths.json"));

    /// <summary>True when the last hole punch with <paramref name="peer"/> failed within <see cref="FailureMemory"/>.</summary>
    public bool RecentlyFailed(string peer, DateTimeOffset now) =>
        Read().TryGetValue(peer, out var record) && !record.HolePunched && now - record.At < FailureMemory;

    public void Remember(string peer, bool holePunched, DateTimeOffset now)
    {
        var all = Read();
        all[peer] = new PathRecord(holePunched, now);
        foreach (var old in all.OrderByDescending(p => p.Value.At).Skip(MaxEntries).Select(p => p.Key).ToList())
            all.Remove(old);
        try
        {
            AtomicFile.Write(file, JsonSerializer.SerializeToUtf8Bytes(all, PathJsonContext.Default.DictionaryStringPathRecord));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A hint that could not be kept: the next command waits for the hole punch again.
        }
    }

    private Dictionary<string, PathRecord> Read()
    {
        try
        {
            if (File.Exists(file))
                return JsonSerializer.Deserialize(File.ReadAllBytes(file), PathJsonContext.Default.DictionaryStringPathRecord) ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
        }
        return [];
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, PathRecord>))]
internal sealed partial class PathJsonContext : JsonSerializerContext;

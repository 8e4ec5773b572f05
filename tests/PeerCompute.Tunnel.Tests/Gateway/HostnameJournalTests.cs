using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>
/// The gateway's hostname bindings: bounded, kept as a snapshot plus an append-only journal that survives a torn line,
/// and written in the background so a provider's handshake never waits for the disk.
/// </summary>
public class HostnameJournalTests
{
    [Test]
    public async Task Beyond_the_bound_the_tag_unused_for_longest_is_forgotten_with_a_log_line_and_a_restart_reads_the_rest_back()
    {
        using var folder = new TempFolder();
        using var a = PeerIdentity.Generate();
        using var b = PeerIdentity.Generate();
        using var c = PeerIdentity.Generate();
        using var d = PeerIdentity.Generate();
        var reports = new List<string>();
        var bindings = HostnameBindings.Load(folder.Path, maxBindings: 3);
        bindings.Report = reports.Add;
        // "aaa" is connected (in use) although it was seen first: it is not the one evicted.
        bindings.InUse = tag => tag == "aaaaaaaaaaaa";
        await bindings.TryClaimAsync("aaaaaaaaaaaa", a.PeerId, CancellationToken.None);
        await bindings.TryClaimAsync("bbbbbbbbbbbb", b.PeerId, CancellationToken.None);
        await bindings.TryClaimAsync("cccccccccccc", c.PeerId, CancellationToken.None);
        await bindings.SetRoutesAsync("cccccccccccc", ["web-cccccccccccc"], CancellationToken.None);
        bool fourth = await bindings.TryClaimAsync("dddddddddddd", d.PeerId, CancellationToken.None);
        await bindings.DisposeAsync();

        var reloaded = HostnameBindings.Load(folder.Path, maxBindings: 3);
        await using var scope = reloaded;

        await Assert.That(fourth).IsTrue();
        await Assert.That(bindings.Count).IsEqualTo(3);
        await Assert.That(reports.Single()).Contains("forgot tag bbbbbbbbbbbb");
        await Assert.That(reports.Single()).Contains("--max-hostname-bindings");
        await Assert.That(reloaded.Count).IsEqualTo(3);
        await Assert.That(reloaded.OwnerOf("aaaaaaaaaaaa")).IsEqualTo(a.PeerId);
        await Assert.That(reloaded.OwnerOf("bbbbbbbbbbbb")).IsNull();
        await Assert.That(reloaded.OwnerOf("dddddddddddd")).IsEqualTo(d.PeerId);
        await Assert.That(reloaded.WasServed("cccccccccccc", "web-cccccccccccc")).IsTrue();
        await Assert.That(reloaded.LoadWarnings).IsEmpty();
    }

    [Test]
    public async Task A_garbage_journal_line_and_a_torn_last_line_are_reported_and_every_other_binding_is_kept()
    {
        using var folder = new TempFolder();
        using var first = PeerIdentity.Generate();
        using var second = PeerIdentity.Generate();
        using var third = PeerIdentity.Generate();
        var bindings = HostnameBindings.Load(folder.Path);
        await bindings.TryClaimAsync("aaaaaaaaaaaa", first.PeerId, CancellationToken.None);
        await bindings.DisposeAsync();
        // What a crash mid-write leaves: good lines, a damaged one, and half of the last one.
        string journal = Path.Combine(folder.Path, HostnameBindings.JournalName);
        await File.AppendAllTextAsync(journal,
            Line("bbbbbbbbbbbb", second.PeerId) + "\u0000\u0000garbage{\n" + Line("cccccccccccc", third.PeerId) + "{\"tag\":\"dddddddddddd\",\"peerId\":\"12D3Ko");

        var loaded = HostnameBindings.Load(folder.Path);
        var warnings = loaded.LoadWarnings.ToList();
        await loaded.DisposeAsync();
        var again = HostnameBindings.Load(folder.Path);
        await using var scope = again;

        await Assert.That(loaded.OwnerOf("aaaaaaaaaaaa")).IsEqualTo(first.PeerId);
        await Assert.That(loaded.OwnerOf("bbbbbbbbbbbb")).IsEqualTo(second.PeerId);
        await Assert.That(loaded.OwnerOf("cccccccccccc")).IsEqualTo(third.PeerId);
        await Assert.That(loaded.OwnerOf("dddddddddddd")).IsNull();
        await Assert.That(warnings.Count).IsEqualTo(2);
        await Assert.That(warnings.Any(w => w.Contains("cannot be read", StringComparison.Ordinal))).IsTrue();
        await Assert.That(warnings.Any(w => w.Contains("cut short", StringComparison.Ordinal))).IsTrue();
        // The damage was settled at load (compacted): the next start reads everything back cleanly.
        await Assert.That(again.Count).IsEqualTo(3);
        await Assert.That(again.LoadWarnings).IsEmpty();
    }

    [Test]
    public async Task Changes_are_appended_to_the_journal_and_compacted_into_the_snapshot_so_neither_grows_with_visits()
    {
        using var folder = new TempFolder();
        using var owner = PeerIdentity.Generate();
        var bindings = HostnameBindings.Load(folder.Path);
        string journal = Path.Combine(folder.Path, HostnameBindings.JournalName);
        // One tag visited again and again (a provider that reconnects, or changes its hostnames, often).
        for (int i = 0; i < 3 * bindings.CompactAfter; i++)
        {
            await bindings.SetRoutesAsync("aaaaaaaaaaaa", [$"v{i}-aaaaaaaaaaaa"], CancellationToken.None);
            await bindings.TryClaimAsync("aaaaaaaaaaaa", owner.PeerId, CancellationToken.None);
            // Each visit on disk before the next, so each is a journal line of its own.
            await bindings.FlushAsync();
        }
        string last = $"v{3 * bindings.CompactAfter - 1}-aaaaaaaaaaaa";
        await bindings.DisposeAsync();
        long journalLines = File.ReadAllLines(journal).Length;
        long snapshotBytes = new FileInfo(Path.Combine(folder.Path, HostnameBindings.FileName)).Length;

        var reloaded = HostnameBindings.Load(folder.Path);
        await using var scope = reloaded;

        await Assert.That(journalLines).IsLessThan(bindings.CompactAfter);
        await Assert.That(snapshotBytes).IsLessThan(1024);
        await Assert.That(reloaded.WasServed("aaaaaaaaaaaa", last)).IsTrue();
        await Assert.That(reloaded.OwnerOf("aaaaaaaaaaaa")).IsEqualTo(owner.PeerId);
    }

    [Test]
    public async Task A_provider_completes_its_handshake_and_route_update_while_the_bindings_writer_is_blocked()
    {
        using var pki = TestPki.Create();
        await using var upstream = await UpstreamServer.StartAsync();
        var store = new BlockedStore();
        var bindings = HostnameBindings.Load(store, 100);
        using var certificate = X509Certificate2.CreateFromPemFile(pki.CertFile, pki.KeyFile);
        var context = SslStreamCertificateContext.Create(certificate, null);
        await using var server = new TunnelServer(new TunnelServerOptions
        {
            Domain = pki.Domain,
            Open = true,
            TunnelEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        }, () => context, bindings);
        server.Start();

        await using var provider = TestProvider.Create("127.0.0.1", server.LocalEndPoint!.Port, pki, new() { ["web"] = upstream.EndPoint }).Start();
        bool servedWhileBlocked, flushedWhileBlocked;
        try
        {
            // The writer took the first change and is stuck in its fsync; the handshake and the routes do not wait for it.
            await store.AppendStarted.WaitAsync(TestProvider.Guard);
            await provider.WaitReadyAsync();
            servedWhileBlocked = bindings.WasServed(provider.Tag, provider.Label("web"));
            flushedWhileBlocked = bindings.FlushAsync().IsCompleted;
        }
        finally
        {
            store.Release();
        }
        await bindings.FlushAsync().WaitAsync(TestProvider.Guard);

        await Assert.That(servedWhileBlocked).IsTrue();
        await Assert.That(flushedWhileBlocked).IsFalse();
        await Assert.That(store.Journal).Contains(provider.Label("web"));
        await bindings.DisposeAsync();
    }

    private static string Line(string tag, PeerId peer) =>
        $"{{\"tag\":\"{tag}\",\"peerId\":\"{peer}\",\"routes\":[],\"firstSeen\":\"2026-01-01T00:00:00Z\",\"lastSeen\":\"2026-01-01T00:00:00Z\"}}\n";

    /// <summary>A disk whose first journal write does not return until the test releases it.</summary>
    private sealed class BlockedStore : IBindingsStore
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly StringBuilder _journal = new();

        public Task AppendStarted => _started.Task;

        public string Journal { get { lock (_journal) return _journal.ToString(); } }

        public string SnapshotPath => "blocked/hostnames.json";

        public string JournalPath => "blocked/hostnames.journal";

        public void Release() => _release.TrySetResult();

        public byte[]? ReadSnapshot() => null;

        public byte[]? ReadJournal() => null;

        public async ValueTask AppendJournalAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
        {
            _started.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
            lock (_journal)
                _journal.Append(Encoding.UTF8.GetString(lines.Span));
        }

        public ValueTask ReplaceSnapshotAsync(ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("pc-journal-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeerCompute.Net.Tests.Interop;

/// <summary>How to start one js-libp2p peer (tests/interop/js/peer.mjs).</summary>
internal sealed class JsPeerOptions
{
    /// <summary>Multiaddrs to listen on; empty means peer.mjs's default /ip4/127.0.0.1/tcp/0.</summary>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>Fixed identity: hex of a libp2p protobuf private key. Null = a fresh Ed25519 key.</summary>
    public string? PrivateKeyHex { get; init; }

    /// <summary>js pings every connected peer every <see cref="MonitorIntervalMs"/> (default 10 s).</summary>
    public bool ConnectionMonitor { get; init; } = true;

    public int? MonitorIntervalMs { get; init; }

    /// <summary>
    /// Lower bound of the monitor's ping timeout (js default 5 s, adapting upward to measured RTTs). When a
    /// ping fails or times out js aborts the whole connection; a ping queued behind bulk data on a busy
    /// machine can take longer than 5 s, so tests moving much data should raise this (or turn the monitor off).
    /// </summary>
    public int? MonitorTimeoutMs { get; init; }

    /// <summary>
    /// Enables @libp2p/mdns, which multicasts on every interface it can see. Only allowed together with
    /// <see cref="NetworkNamespace"/> or <see cref="MdnsConfinedByCaller"/>: no multicast may leave the machine.
    /// </summary>
    public bool Mdns { get; init; }

    public int? MdnsIntervalMs { get; init; }

    /// <summary>The caller vouches that this process's network is already confined (e.g. the test runs in its own namespace).</summary>
    public bool MdnsConfinedByCaller { get; init; }

    /// <summary>Runs node inside this existing network namespace (`ip netns exec NAME node ...`).</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Any further peer.mjs arguments (see tests/interop/js/README.md).</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>Guards against hangs while waiting for the ready line (not counting npm ci).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>A js-libp2p peer reported a failure, exited, or broke the line protocol.</summary>
internal sealed class JsPeerException(string message) : Exception(message);

/// <summary>
/// One js-libp2p node in a child process, driven by JSON-lines commands on its stdin and reporting
/// JSON-lines events on its stdout. Commands: dial, hangup, connections, identify, ping, echo, streams,
/// send, receive, stop (see tests/interop/js/README.md). Dispose ends the process.
/// </summary>
internal sealed class JsPeer : IAsyncDisposable
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private static bool s_installed;
    private const int StderrLinesKept = 200;

    private readonly Process _process;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Lock _gate = new();
    private readonly List<JsonElement> _events = [];
    private readonly Queue<string> _stderr = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private TaskCompletionSource _changed = NewSignal();
    private JsPeerException? _ended;
    private long _nextId;
    private int _disposed;

    private JsPeer(Process process)
    {
        _process = process;
        _stdoutPump = Task.Run(PumpStdoutAsync);
        _stderrPump = Task.Run(PumpStderrAsync);
    }

    /// <summary>The folder holding package.json and peer.mjs, found by walking up from the test binaries.</summary>
    public static string JsDirectory { get; } = FindJsDirectory();

    public string PeerId { get; private set; } = "";

    /// <summary>Listen addresses from the ready line, each ending in /p2p/&lt;PeerId&gt;.</summary>
    public IReadOnlyList<string> Addrs { get; private set; } = [];

    /// <summary>The whole ready event (peerId, addrs, protocols, publicKey).</summary>
    public JsonElement Ready { get; private set; }

    /// <summary>Position after the last event received so far: pass it as `fromIndex` to wait only for newer events.</summary>
    public int EventMark
    {
        get { lock (_gate) return _events.Count; }
    }

    /// <summary>Events received so far (results excluded), oldest first.</summary>
    public IReadOnlyList<JsonElement> Events
    {
        get { lock (_gate) return [.. _events]; }
    }

    /// <summary>The last lines node wrote to stderr, for failure messages.</summary>
    public string StandardErrorTail
    {
        get { lock (_gate) return string.Join('\n', _stderr); }
    }

    public static async Task<JsPeer> StartAsync(JsPeerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new JsPeerOptions();
        if (options.Mdns && options.NetworkNamespace is null && !options.MdnsConfinedByCaller)
        {
            throw new ArgumentException(
                "mDNS multicasts on every interface: run the js peer in a test-created network namespace.", nameof(options));
        }

        await EnsureInstalledAsync(cancellationToken).ConfigureAwait(false);

        var start = new ProcessStartInfo
        {
            WorkingDirectory = JsDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        };
        if (options.NetworkNamespace is { } ns)
        {
            start.FileName = "ip";
            foreach (var a in (string[])["netns", "exec", ns, "node"]) start.ArgumentList.Add(a);
        }
        else
        {
            start.FileName = "node";
        }
        foreach (var a in BuildArguments(options)) start.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new JsPeerException("node did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new JsPeerException($"cannot start '{start.FileName}' (is Node.js 20+ installed?): {e.Message}");
        }

        var peer = new JsPeer(process);
        try
        {
            var ready = await peer.WaitForEventAsync(e => EventName(e) == "ready", options.ReadyTimeout, 0, cancellationToken)
                .ConfigureAwait(false);
            peer.Ready = ready;
            peer.PeerId = ready.GetProperty("peerId").GetString() ?? throw new JsPeerException("ready line without peerId");
            peer.Addrs = [.. ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString() ?? "")];
            return peer;
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends one command (args are merged with `cmd` and `id`) and returns its `result` object.
    /// Throws <see cref="JsPeerException"/> when js answers ok=false or the process ends first.
    /// </summary>
    public async Task<JsonElement> SendAsync(string cmd, JsonObject? args = null, CancellationToken cancellationToken = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        var message = args is null ? new JsonObject() : (JsonObject)args.DeepClone();
        message["id"] = id;
        message["cmd"] = cmd;
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        lock (_gate)
        {
            if (_ended is { } ended)
            {
                _pending.TryRemove(id, out _);
                throw ended;
            }
        }

        try
        {
            await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _process.StandardInput.WriteLineAsync(message.ToJsonString().AsMemory(), cancellationToken).ConfigureAwait(false);
                await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeGate.Release();
            }
            return await tcs.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new JsPeerException($"{cmd}: cannot write to the js peer ({e.Message}); stderr:\n{StandardErrorTail}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// The first event at index <paramref name="fromIndex"/> or later that matches (events already received count),
    /// waiting up to <paramref name="timeout"/>. Use <see cref="EventMark"/> to skip older events.
    /// </summary>
    public async Task<JsonElement> WaitForEventAsync(
        Func<JsonElement, bool> predicate, TimeSpan timeout, int fromIndex = 0, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var e in ReadEventsAsync(fromIndex, cts.Token).ConfigureAwait(false))
            {
                if (predicate(e)) return e;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"js peer {PeerId}: no matching event within {timeout}. Recent events:\n{RecentEvents(10)}\nstderr:\n{StandardErrorTail}");
        }
        throw _ended ?? new JsPeerException("event stream ended");
    }

    /// <summary>Every event from index <paramref name="fromIndex"/> on, then new ones as they arrive, until the process ends.</summary>
    public async IAsyncEnumerable<JsonElement> ReadEventsAsync(
        int fromIndex = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var i = fromIndex;
        while (true)
        {
            JsonElement? next = null;
            Task changed;
            bool ended;
            lock (_gate)
            {
                if (i < _events.Count) next = _events[i];
                changed = _changed.Task;
                ended = _ended is not null;
            }
            if (next is { } e)
            {
                i++;
                yield return e;
                continue;
            }
            if (ended) yield break;
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            // stdin EOF makes peer.mjs stop libp2p and exit; kill it if it takes too long.
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // already gone
        }
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        await Task.WhenAll(_stdoutPump, _stderrPump).ConfigureAwait(false);
        _process.Dispose();
        _writeGate.Dispose();
    }

    public override string ToString() => $"js peer {PeerId}";

    public static string EventName(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("event", out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : "";

    private string RecentEvents(int count)
    {
        lock (_gate)
        {
            return string.Join('\n', _events.Skip(Math.Max(0, _events.Count - count)).Select(e => e.GetRawText()));
        }
    }

    private async Task PumpStdoutAsync()
    {
        var reader = _process.StandardOutput;
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0) continue;
                JsonElement e;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    e = doc.RootElement.Clone();
                }
                catch (JsonException)
                {
                    AddStderr($"[stdout, not JSON] {line}");
                    continue;
                }
                if (EventName(e) == "result")
                {
                    DeliverResult(e);
                    continue;
                }
                TaskCompletionSource changed;
                lock (_gate)
                {
                    _events.Add(e);
                    changed = _changed;
                    _changed = NewSignal();
                }
                changed.TrySetResult();
            }
        }
        catch (IOException)
        {
            // the pipe broke: same as the end of the stream
        }
        await _process.WaitForExitAsync().ConfigureAwait(false);
        await _stderrPump.ConfigureAwait(false);
        var ended = new JsPeerException(
            $"js peer {PeerId} exited with code {_process.ExitCode}; stderr:\n{StandardErrorTail}");
        TaskCompletionSource last;
        lock (_gate)
        {
            _ended = ended;
            last = _changed;
        }
        last.TrySetResult();
        foreach (var pending in _pending.Values) pending.TrySetException(ended);
    }

    private void DeliverResult(JsonElement e)
    {
        if (!e.TryGetProperty("id", out var idElement) || !idElement.TryGetInt64(out var id)) return;
        if (!_pending.TryGetValue(id, out var tcs)) return;
        if (e.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
        {
            tcs.TrySetResult(e.TryGetProperty("result", out var r) ? r : default);
        }
        else
        {
            var cmd = e.TryGetProperty("cmd", out var c) ? c.ToString() : "?";
            var error = e.TryGetProperty("error", out var m) ? m.ToString() : "no error text";
            tcs.TrySetException(new JsPeerException($"js {cmd}: {error}"));
        }
    }

    private async Task PumpStderrAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line) AddStderr(line);
        }
        catch (IOException)
        {
        }
    }

    private void AddStderr(string line)
    {
        lock (_gate)
        {
            _stderr.Enqueue(line);
            while (_stderr.Count > StderrLinesKept) _stderr.Dequeue();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static List<string> BuildArguments(JsPeerOptions o)
    {
        List<string> args = ["--import", "./polyfill.mjs", "peer.mjs"];
        foreach (var l in o.Listen) args.AddRange(["--listen", l]);
        if (o.PrivateKeyHex is { } key) args.AddRange(["--key", key]);
        if (!o.ConnectionMonitor) args.Add("--no-monitor");
        if (o.MonitorIntervalMs is { } mi) args.AddRange(["--monitor-interval", mi.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (o.MonitorTimeoutMs is { } mt) args.AddRange(["--monitor-timeout", mt.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (o.Mdns) args.Add("--mdns");
        if (o.MdnsIntervalMs is { } di) args.AddRange(["--mdns-interval", di.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.AddRange(o.ExtraArgs);
        return args;
    }

    private static string FindJsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "interop", "js");
            if (File.Exists(Path.Combine(candidate, "peer.mjs"))) return candidate;
        }
        throw new JsPeerException($"tests/interop/js/peer.mjs not found above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// Runs `npm ci` when node_modules is missing or was installed from another lock file. Guarded in-process
    /// by a semaphore and across processes (parallel test projects) by an exclusive lock file.
    /// build/test.sh follows the same rule with the same marker (lowercase hex SHA-256 of package-lock.json in
    /// node_modules/.peercompute-lock-sha256) and the same lock file (flock on .npm-ci.lock): change them together.
    /// </summary>
    private static async Task EnsureInstalledAsync(CancellationToken cancellationToken)
    {
        await InstallGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (s_installed) return;
            var lockHash = Convert.ToHexStringLower(
                SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(JsDirectory, "package-lock.json"), cancellationToken).ConfigureAwait(false)));
            var marker = Path.Combine(JsDirectory, "node_modules", ".peercompute-lock-sha256");

            await using var fileLock = await AcquireFileLockAsync(Path.Combine(JsDirectory, ".npm-ci.lock"), cancellationToken).ConfigureAwait(false);
            if (!File.Exists(marker) || (await File.ReadAllTextAsync(marker, cancellationToken).ConfigureAwait(false)).Trim() != lockHash)
            {
                await RunNpmCiAsync(cancellationToken).ConfigureAwait(false);
                await File.WriteAllTextAsync(marker, lockHash, cancellationToken).ConfigureAwait(false);
            }
            s_installed = true;
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromMinutes(15));
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException)
            {
                // Another test process holds the lock (the file is kept, never deleted, so everyone locks
                // the same inode) and is installing; poll until it is done
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new JsPeerException($"timed out waiting for {path} (another npm ci still running?)");
                }
            }
        }
    }

    private static async Task RunNpmCiAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = JsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["ci", "--no-audit", "--no-fund", "--loglevel=error"]) start.ArgumentList.Add(a);
        using var npm = Process.Start(start) ?? throw new JsPeerException("npm did not start");
        var stdout = npm.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = npm.StandardError.ReadToEndAsync(cancellationToken);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromMinutes(10));
        try
        {
            await npm.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            npm.Kill(entireProcessTree: true);
            throw new JsPeerException("npm ci did not finish within 10 minutes");
        }
        if (npm.ExitCode != 0)
        {
            throw new JsPeerException(
                $"npm ci in {JsDirectory} failed with code {npm.ExitCode}:\n{await stdout.ConfigureAwait(false)}\n{await stderr.ConfigureAwait(false)}");
        }
    }
}

/// <summary>
/// A throw-away network namespace holding only loopback, with multicast on and routed to lo, so mDNS
/// between processes started inside it (<see cref="JsPeerOptions.NetworkNamespace"/>) never reaches a
/// real network. Needs root (CAP_SYS_ADMIN) and iproute2.
/// </summary>
internal sealed class TestNetworkNamespace : IAsyncDisposable
{
    private TestNetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static async Task<TestNetworkNamespace> CreateAsync(CancellationToken cancellationToken = default)
    {
        var name = "pc-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await IpAsync(["netns", "add", name], cancellationToken).ConfigureAwait(false);
        var ns = new TestNetworkNamespace(name);
        try
        {
            await IpAsync(["-n", name, "link", "set", "lo", "up", "multicast", "on"], cancellationToken).ConfigureAwait(false);
            await IpAsync(["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"], cancellationToken).ConfigureAwait(false);
            return ns;
        }
        catch
        {
            await ns.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync() => await IpAsync(["netns", "del", Name], CancellationToken.None).ConfigureAwait(false);

    private static async Task IpAsync(string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var ip = Process.Start(start) ?? throw new JsPeerException("ip did not start");
        var stderr = ip.StandardError.ReadToEndAsync(cancellationToken);
        await ip.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await ip.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (ip.ExitCode != 0)
        {
            throw new JsPeerException($"ip {string.Join(' ', args)} failed ({ip.ExitCode}): {await stderr.ConfigureAwait(false)}");
        }
    }
}

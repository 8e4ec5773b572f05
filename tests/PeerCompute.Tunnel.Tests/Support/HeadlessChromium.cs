using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// Debian's chromium, headless, driven over the DevTools protocol from C#: navigate, wait for the load event,
/// evaluate JavaScript (awaiting promises, so the waiting happens in the page, not in sleeps here).
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly Dictionary<int, TaskCompletionSource<JsonNode?>> _pending = [];
    private readonly List<(string Method, TaskCompletionSource<JsonNode?> Done)> _eventWaiters = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> StartAsync(CancellationToken cancellationToken)
    {
        string profile = Directory.CreateTempSubdirectory("pc-chromium-").FullName;
        var info = new ProcessStartInfo(Executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[]
        {
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
            // The test CA is not in Chromium's store; the gateway's TLS is what is under test, not the browser's trust.
            "--ignore-certificate-errors",
            "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank",
        })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            // Chromium writes the port it chose into the profile.
            string portFile = Path.Combine(profile, "DevToolsActivePort");
            using var watcher = new FileSystemWatcher(profile, "DevToolsActivePort") { EnableRaisingEvents = true };
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            watcher.Created += (_, _) => created.TrySetResult();
            watcher.Changed += (_, _) => created.TrySetResult();
            if (!File.Exists(portFile) || new FileInfo(portFile).Length == 0)
                await created.Task.WaitAsync(cancellationToken);
            string[] lines = [];
            while (lines.Length < 2)
            {
                try
                {
                    lines = await File.ReadAllLinesAsync(portFile, cancellationToken);
                }
                catch (IOException)
                {
                }
                if (lines.Length < 2)
                    await Task.Yield();
            }
            using var http = new HttpClient();
            string list = await http.GetStringAsync($"http://127.0.0.1:{lines[0]}/json/list", cancellationToken);
            string pageSocket = JsonNode.Parse(list)!.AsArray().First(t => t!["type"]!.GetValue<string>() == "page")!["webSocketDebuggerUrl"]!.GetValue<string>();
            await browser._socket.ConnectAsync(new Uri(pageSocket), cancellationToken);
            browser._reader = browser.ReadLoopAsync();
            await browser.SendAsync("Page.enable", null, cancellationToken);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public async Task<JsonNode?> SendAsync(string method, JsonObject? parameters, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        int id;
        lock (_pending)
        {
            id = ++_nextId;
            _pending[id] = done;
        }
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Navigates and waits for the page's load event.</summary>
    public async Task NavigateAsync(string url, CancellationToken cancellationToken)
    {
        var loaded = WaitForEvent("Page.loadEventFired");
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url }, cancellationToken);
        if (result?["errorText"] is { } error)
            throw new InvalidOperationException($"navigation to {url} failed: {error}");
        await loaded.WaitAsync(cancellationToken);
    }

    /// <summary>Evaluates an expression in the page (awaiting a promise) and returns its value as a string.</summary>
    public async Task<string?> EvaluateAsync(string expression, CancellationToken cancellationToken)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression,
            ["awaitPromise"] = true,
            ["returnByValue"] = true,
        }, cancellationToken);
        if (result?["exceptionDetails"] is { } exception)
            throw new InvalidOperationException("page script failed: " + exception.ToJsonString());
        return result?["result"]?["value"]?.ToString();
    }

    private Task<JsonNode?> WaitForEvent(string method)
    {
        var done = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_eventWaiters)
            _eventWaiters.Add((method, done));
        return done.Task;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    message.Write(buffer, 0, result.Count);
                } while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                    break;
                var node = JsonNode.Parse(message.ToArray());
                if (node?["id"] is { } idNode)
                {
                    TaskCompletionSource<JsonNode?>? done;
                    lock (_pending)
                        _pending.Remove(idNode.GetValue<int>(), out done);
                    if (node["error"] is { } error)
                        done?.TrySetException(new InvalidOperationException(error.ToJsonString()));
                    else
                        done?.TrySetResult(node["result"]);
                }
                else if (node?["method"]?.GetValue<string>() is { } method)
                {
                    lock (_eventWaiters)
                    {
                        foreach (var waiter in _eventWaiters.Where(w => w.Method == method).ToList())
                        {
                            waiter.Done.TrySetResult(node["params"]);
                            _eventWaiters.Remove(waiter);
                        }
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or JsonException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _reader;
        }
        catch (Exception)
        {
        }
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using PeerCompute.System.Tests.Build;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>
/// Runs the real programs as separate processes: to completion (<see cref="RunAsync"/>), or in the
/// background while their output is watched line by line (<see cref="Start"/>).
/// </summary>
internal sealed class TestProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineAdded = new(0);
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private TestProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    private volatile bool _disposed;

    /// <summary>True once the process ended, and after <see cref="DisposeAsync"/> (a disposed process is never running).</summary>
    public bool HasExited => _disposed || _process.HasExited;

    public string Output
    {
        get { lock (_stdout) return _stdout.ToString() + _stderr; }
    }

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, TimeSpan? timeout = null, string? stdin = null)
    {
        await using var p = Start(fileName, args, env, redirectStdin: stdin is not null);
        if (stdin is not null)
        {
            await p._process.StandardInput.WriteAsync(stdin);
            p._process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p._process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Path.GetFileName(fileName)} {string.Join(' ', args)} did not finish in time.\n{p.Output}");
        }
        lock (p._stdout)
            return new ProcessResult(p._process.ExitCode, p._stdout.ToString(), p._stderr.ToString());
    }

    public static TestProcess Start(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, bool redirectStdin = false)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        if (env is not null)
        {
            foreach (var (key, value) in env)
            {
                if (value is null)
                    info.Environment.Remove(key);
                else
                    info.Environment[key] = value;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var test = new TestProcess(process);
        process.OutputDataReceived += (_, e) => test.OnLine(e.Data, test._stdout);
        process.ErrorDataReceived += (_, e) => test.OnLine(e.Data, test._stderr);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return test;
    }

    private void OnLine(string? line, StringBuilder into)
    {
        if (line is null)
            return;
        lock (_stdout)
            into.AppendLine(line);
        _lines.Enqueue(line);
        _lineAdded.Release();
    }

    /// <summary>Waits for an output line (stdout or stderr) matching <paramref name="predicate"/>, and returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var seen = new List<string>();
        while (true)
        {
            while (_lines.TryDequeue(out var line))
            {
                seen.Add(line);
                if (predicate(line))
                    return line;
            }
            if (_process.HasExited && _lines.IsEmpty)
            {
                await Task.Yield();
                if (_lines.IsEmpty)
                    throw new InvalidOperationException($"{_process.StartInfo.FileName} exited ({_process.ExitCode}) before the expected line.\n{Output}");
                continue;
            }
            try
            {
                await _lineAdded.WaitAsync(TimeSpan.FromMilliseconds(500), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Expected line not seen from {_process.StartInfo.FileName} within {timeout.TotalSeconds} s.\n{Output}");
            }
        }
    }

    public void Signal(int signal)
    {
        if (!HasExited)
            Posix.Kill(_process.Id, signal);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _disposed = true;
        _process.Dispose();
    }
}

internal static class Posix
{
    public const int SIGTERM = 15;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;

    public static void Kill(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal.ToString(global::System.Globalization.CultureInfo.InvariantCulture), pid.ToString(global::System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }
}

using System.Diagnostics;
using System.Text;

namespace PeerCompute.Testing;

/// <summary>
/// The one way the tests run a program: to completion, capturing its output as written (<see cref="RunAsync"/>),
/// or in the background while its output is watched line by line (<see cref="Start"/>).
/// </summary>
public sealed class TestProcess : IAsyncDisposable
{
    /// <summary>Only guards against a hang.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private int _consumed;
    private TaskCompletionSource _lineAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _disposed;

    private TestProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    /// <summary>True once the process ended, and after <see cref="DisposeAsync"/> (a disposed process is never running).</summary>
    public bool HasExited => _disposed || _process.HasExited;

    /// <summary>The exit code once it ended; null while it runs.</summary>
    public int? ExitCode => !_disposed && _process.HasExited ? _process.ExitCode : null;

    /// <summary>Everything printed so far: stdout, then stderr.</summary>
    public string Output
    {
        get { lock (_lines) return _stdout.ToString() + _stderr; }
    }

    /// <summary>
    /// Runs to the end with stdin given (or closed) and returns the exit code and the output byte for byte.
    /// <paramref name="environment"/> entries override the inherited ones; a null value removes one.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null, string? stdin = null, string? workingDirectory = null, CancellationToken cancellationToken = default)
    {
        string[] arguments = [.. args];
        var info = StartInfo(fileName, arguments, environment, redirectStdin: true, workingDirectory);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (stdin is not null)
            await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
        process.StandardInput.Close();
        var limit = timeout ?? DefaultTimeout;
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        guard.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(guard.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
                throw;
            throw new TimeoutException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} did not finish within {limit.TotalSeconds} s.\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }
        return new ProcessResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Starts it in the background; its output lines are kept for <see cref="WaitForLineAsync"/> and <see cref="Output"/>.</summary>
    public static TestProcess Start(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, bool redirectStdin = false)
    {
        var process = new Process { StartInfo = StartInfo(fileName, [.. args], environment, redirectStdin, workingDirectory: null), EnableRaisingEvents = true };
        var test = new TestProcess(process);
        process.OutputDataReceived += (_, e) => test.OnLine(e.Data, test._stdout);
        process.ErrorDataReceived += (_, e) => test.OnLine(e.Data, test._stderr);
        process.Exited += (_, _) => test.Changed();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return test;
    }

    private static ProcessStartInfo StartInfo(string fileName, string[] args, IReadOnlyDictionary<string, string?>? environment, bool redirectStdin, string? workingDirectory)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
            info.WorkingDirectory = workingDirectory;
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                    info.Environment.Remove(key);
                else
                    info.Environment[key] = value;
            }
        }
        return info;
    }

    /// <summary>The process's stdin, when started with <c>redirectStdin</c>.</summary>
    public StreamWriter StandardInput => _process.StandardInput;

    private void OnLine(string? line, StringBuilder into)
    {
        if (line is null)
            return;
        lock (_lines)
        {
            into.AppendLine(line);
            _lines.Add(line);
        }
        Changed();
    }

    private void Changed() =>
        Interlocked.Exchange(ref _lineAdded, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Waits for an output line (stdout or stderr) matching <paramref name="predicate"/> after the lines earlier calls
    /// already went past, and returns it.
    /// </summary>
    public Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout) => WaitAsync(predicate, timeout, fromStart: false);

    /// <summary>Waits until any line printed since the start matches <paramref name="predicate"/> (earlier waits do not hide lines).</summary>
    public Task<string> WaitForOutputAsync(Func<string, bool> predicate, TimeSpan timeout) => WaitAsync(predicate, timeout, fromStart: true);

    private async Task<string> WaitAsync(Func<string, bool> predicate, TimeSpan timeout, bool fromStart)
    {
        using var cts = new CancellationTokenSource(timeout);
        int next = fromStart ? 0 : _consumed;
        while (true)
        {
            var changed = Volatile.Read(ref _lineAdded).Task;
            bool exited = _process.HasExited;
            while (TryTake(next, out string? line))
            {
                next++;
                if (!fromStart)
                    _consumed = next;
                if (predicate(line))
                    return line;
            }
            if (exited)
            {
                // Exited is raised before the last lines are read: wait (briefly) for the end of both streams.
                using (var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
                {
                    try
                    {
                        await _process.WaitForExitAsync(drain.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                if (TryTake(next, out _))
                    continue;
                throw new InvalidOperationException($"{_process.StartInfo.FileName} exited ({_process.ExitCode}) before the expected line.\n{Output}");
            }
            try
            {
                await changed.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Expected line not seen from {_process.StartInfo.FileName} within {timeout.TotalSeconds} s.\n{Output}");
            }
        }
    }

    private bool TryTake(int index, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? line)
    {
        lock (_lines)
        {
            line = index < _lines.Count ? _lines[index] : null;
            return line is not null;
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
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"{_process.StartInfo.FileName} (pid {_process.Id}) did not exit within {timeout.TotalSeconds:0.#} s; its output so far:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <summary>Kills the whole process tree if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(guard.Token).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _disposed = true;
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Text;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>Runs a command line tool (docker, the CI scripts) and captures what it printed.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public Result EnsureSuccess(string what)
            => ExitCode == 0 ? this : throw new InvalidOperationException($"{what} failed ({ExitCode}): {Stderr}{Stdout}");
    }

    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, TimeSpan? timeout = null, string? stdin = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish in time");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static Task<Result> DockerAsync(params string[] arguments) => RunAsync("docker", arguments);
}

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>Runs a command line tool (docker, the CI scripts) with the test kit's <see cref="TestProcess"/>, in the runtime tests' terms.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public Result EnsureSuccess(string what)
            => ExitCode == 0 ? this : throw new InvalidOperationException($"{what} failed ({ExitCode}): {Stderr}{Stdout}");
    }

    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, TimeSpan? timeout = null, string? stdin = null)
    {
        var result = await TestProcess.RunAsync(file, arguments, timeout: timeout, stdin: stdin);
        return new Result(result.ExitCode, result.StandardOutput, result.StandardError);
    }

    public static Task<Result> DockerAsync(params string[] arguments) => RunAsync("docker", arguments);
}

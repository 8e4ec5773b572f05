namespace PeerCompute.Cli;

/// <summary>Exit codes shared by peerctl, peercomputed and gateway (documented in --help and the README).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
}

/// <summary>A failure whose message is meant for the user as it is (no stack trace).</summary>
/// <param name="code">The <c>error.code</c> of <c>--json</c> output: a stable word a script can test.</param>
internal class CliException(string message, int exitCode = ExitCodes.Failed, string code = "failed") : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public string Code { get; } = code;
}

internal sealed class UsageException(string message) : CliException(message, ExitCodes.Usage, "usage");

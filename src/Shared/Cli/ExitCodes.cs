namespace PeerCompute.Cli;

/// <summary>Exit codes shared by peerctl, peercomputed and gateway (documented in --help and the README).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
}

/// <summary>A failure whose message is meant for the user as it is (no stack trace).</summary>
internal class CliException(string message, int exitCode = ExitCodes.Failed) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal sealed class UsageException(string message) : CliException(message, ExitCodes.Usage);

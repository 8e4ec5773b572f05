namespace PeerCompute.Cli;

/// <summary>
/// Colour for a person at a terminal, none for a pipe, a file, or when NO_COLOR is set (no-color.org) or TERM=dumb.
/// Stdout and stderr are decided apart: <c>peerctl status | less</c> still gets red errors on the terminal.
/// </summary>
internal static class Colors
{
    private static readonly bool NoColor = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) || Environment.GetEnvironmentVariable("TERM") == "dumb";

    public static bool OnStdout { get; } = !NoColor && !Console.IsOutputRedirected;

    public static bool OnStderr { get; } = !NoColor && !Console.IsErrorRedirected;

    /// <summary>For stderr: "error:" in bold red.</summary>
    public static string Error(string text) => OnStderr ? $"\e[1;31m{text}\e[0m" : text;

    /// <summary>For stderr: hints and notes, dimmed.</summary>
    public static string Hint(string text) => OnStderr ? $"\e[2m{text}\e[0m" : text;

    /// <summary>For stdout: a deployment state, padded to <paramref name="width"/> before colouring so tables stay aligned.</summary>
    public static string State(string state, int width = 0)
    {
        string padded = state.PadRight(width);
        if (!OnStdout)
            return padded;
        string code = state.Split(' ')[0] switch
        {
            "running" => "32",
            "starting" or "pulling" or "created" or "restarting" => "33",
            "exited" or "failed" or "dead" or "error" or "unreachable" or "oom-killed" => "31",
            _ => "",
        };
        return code.Length == 0 ? padded : $"\e[{code}m{state}\e[0m{padded[state.Length..]}";
    }
}

namespace PeerCompute.Ctl.Output;

/// <summary>Progress redrawn in place goes to a terminal only: CI logs and pipes get plain lines.</summary>
internal static class Terminal
{
    public static bool IsInteractive => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;
}

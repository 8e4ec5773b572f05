namespace PeerCompute.Ctl.Output;

/// <summary>Progress goes to a terminal only: CI logs get no progress bars or control characters.</summary>
internal static class Terminal
{
    public static bool IsInteractive => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    public static void Status(string text)
    {
        if (!IsInteractive)
            return;
        int width = Math.Max(20, SafeWidth() - 1);
        text = PeerCompute.Cli.TerminalText.Neutralise(text); // progress text comes from the provider
        Console.Error.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
    }

    public static void ClearStatus()
    {
        if (IsInteractive)
            Console.Error.Write("\r" + new string(' ', Math.Max(20, SafeWidth() - 1)) + "\r");
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (IOException)
        {
            return 80;
        }
    }
}

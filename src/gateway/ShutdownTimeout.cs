using System.Globalization;

namespace PeerCompute.Gateway;

/// <summary>How long the command-line framework lets a stopping gateway run: its drain time, and a few seconds more.</summary>
internal static class ShutdownTimeout
{
    /// <summary>The default of --drain-seconds (GatewayCommands.Run).</summary>
    public const int DefaultDrainSeconds = 10;

    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    /// <remarks>An invalid value is left to the command's own check, which names it; meanwhile the default holds.</remarks>
    public static TimeSpan FromArguments(ReadOnlySpan<string> args)
    {
        int seconds = DefaultDrainSeconds;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--")
                break;
            string? value = arg == "--drain-seconds" && i + 1 < args.Length ? args[i + 1]
                : arg.StartsWith("--drain-seconds=", StringComparison.Ordinal) ? arg["--drain-seconds=".Length..]
                : null;
            if (value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed <= 3600)
                seconds = parsed;
        }
        return TimeSpan.FromSeconds(seconds) + Margin;
    }
}

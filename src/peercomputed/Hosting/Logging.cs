using Microsoft.Extensions.Logging;
using ZLogger;
using ZLogger.Formatters;

namespace PeerCompute.Daemon.Hosting;

internal static class Logging
{
    /// <summary>One line per event on stdout (journald adds its own timestamp); JSON lines with --log-format json.</summary>
    public static ILoggerFactory Create(string format, LogLevel minimum = LogLevel.Information) =>
        LoggerFactory.Create(builder =>
        {
            builder.ClearProviders();
            builder.SetMinimumLevel(minimum);
            builder.AddZLoggerConsole(options =>
            {
                if (format == "json")
                {
                    options.UseJsonFormatter();
                }
                else
                {
                    options.UsePlainTextFormatter(formatter =>
                        formatter.SetPrefixFormatter($"{0:yyyy-MM-dd HH:mm:ss} {1} ", (in MessageTemplate template, in LogInfo info) =>
                            template.Format(info.Timestamp.Utc.UtcDateTime, LevelText(info.LogLevel))));
                }
            });
        });

    private static string LevelText(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info ",
        LogLevel.Warning => "warn ",
        LogLevel.Error => "error",
        _ => "crit ",
    };
}

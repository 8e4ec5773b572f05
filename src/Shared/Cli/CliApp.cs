using ConsoleAppFramework;

namespace PeerCompute.Cli;

/// <summary>What the three programs do the same way around ConsoleAppFramework: help header, usage errors, exit codes.</summary>
internal static class CliApp
{
    public const string ExitCodeHelp = "Exit codes: 0 ok, 1 the operation failed, 2 usage error.";

    /// <summary>
    /// Pre-processes <paramref name="args"/>; returns an exit code when the program should stop now (usage error),
    /// or null to go on and run the framework.
    /// </summary>
    public static int? Prepare(ref string[] args, string program, string description, IReadOnlyDictionary<string, int> commands, params ReadOnlySpan<string> repeatable)
    {
        try
        {
            args = CliArgs.CollapseRepeated(args, repeatable);
            CliArgs.RequireKnownCommand(args, commands, program);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return ExitCodes.Usage;
        }
        if (args.Length == 0 || args is ["-h" or "--help"])
            Console.Out.WriteLine($"{program} {Version}: {description}\n{ExitCodeHelp}\n");
        // The framework reports unknown or malformed options through LogError: those are usage errors.
        ConsoleApp.LogError = message =>
        {
            Console.Error.WriteLine($"error: {message}");
            UsageErrorReported = true;
        };
        return null;
    }

    public static bool UsageErrorReported { get; private set; }

    /// <summary>The exit code once the framework has run.</summary>
    public static int Finish() => UsageErrorReported ? ExitCodes.Usage : Environment.ExitCode;

    public static string Version { get; } =
        (typeof(CliApp).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .FirstOrDefault() as System.Reflection.AssemblyInformationalVersionAttribute)?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}

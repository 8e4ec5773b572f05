using System.Text.Json.Serialization;
using ConsoleAppFramework;

namespace PeerCompute.Cli;

/// <summary>
/// Turns exceptions into one readable line on stderr (control characters neutralised: messages may quote a peer) and a
/// documented exit code; with <c>--json</c> on the command line, also <c>{"error":{"code","message"}}</c> on stdout, so a
/// script reading stdout always gets JSON.
/// </summary>
internal sealed class CliErrorFilter(ConsoleAppFilter next) : ConsoleAppFilter(next)
{
    public override async Task InvokeAsync(ConsoleAppContext context, CancellationToken cancellationToken)
    {
        bool json = CliErrors.WantsJson(context.Arguments);
        try
        {
            await Next.InvokeAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            Environment.ExitCode = ex.ExitCode;
            CliErrors.Report(ex.Code, ex.Message, json);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Environment.ExitCode = 130;
        }
        catch (Exception ex) when (ex is ArgumentParseFailedException or ArgumentException)
        {
            Environment.ExitCode = ExitCodes.Usage;
            CliErrors.Report("usage", ex.Message, json);
        }
        catch (Exception ex)
        {
            Environment.ExitCode = ExitCodes.Failed;
            CliErrors.Report("failed", ex.Message, json);
            if (Environment.GetEnvironmentVariable("PEERCOMPUTE_DEBUG") == "1")
                Console.Error.WriteLine(ex);
        }
    }
}

/// <summary>The <c>--json</c> error shape, the same as a provider's error answer: <c>{"error":{"code","message"}}</c>.</summary>
internal sealed record CliErrorOutput(CliError Error);

internal sealed record CliError(string Code, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CliErrorOutput))]
internal sealed partial class CliErrorJsonContext : JsonSerializerContext;

internal static class CliErrors
{
    public static bool WantsJson(IEnumerable<string> args) => args.TakeWhile(a => a != "--").Any(a => a is "--json" or "--json=true");

    /// <summary>"error: ..." on stderr, and with <paramref name="json"/> the JSON error on stdout.</summary>
    public static void Report(string code, string message, bool json)
    {
        Console.Error.WriteLine($"{Colors.Error("error:")} {TerminalText.Neutralise(message)}");
        if (json)
            CliJson.Write(new CliErrorOutput(new CliError(code, message)), CliErrorJsonContext.Default.CliErrorOutput);
    }
}

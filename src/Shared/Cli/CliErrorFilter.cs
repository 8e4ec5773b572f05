using ConsoleAppFramework;

namespace PeerCompute.Cli;

/// <summary>Turns exceptions into one readable line on stderr (control characters neutralised: messages may quote a peer) and a documented exit code.</summary>
internal sealed class CliErrorFilter(ConsoleAppFilter next) : ConsoleAppFilter(next)
{
    public override async Task InvokeAsync(ConsoleAppContext context, CancellationToken cancellationToken)
    {
        try
        {
            await Next.InvokeAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            Environment.ExitCode = ex.ExitCode;
            Console.Error.WriteLine($"{Colors.Error("error:")} {TerminalText.Neutralise(ex.Message)}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Environment.ExitCode = 130;
        }
        catch (Exception ex) when (ex is ArgumentParseFailedException or ArgumentException)
        {
            Environment.ExitCode = ExitCodes.Usage;
            Console.Error.WriteLine($"{Colors.Error("error:")} {TerminalText.Neutralise(ex.Message)}");
        }
        catch (Exception ex)
        {
            Environment.ExitCode = ExitCodes.Failed;
            Console.Error.WriteLine($"{Colors.Error("error:")} {TerminalText.Neutralise(ex.Message)}");
            if (Environment.GetEnvironmentVariable("PEERCOMPUTE_DEBUG") == "1")
                Console.Error.WriteLine(ex);
        }
    }
}

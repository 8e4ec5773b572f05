using System.Globalization;
using System.Text;
using ConsoleAppFramework;

namespace PeerCompute.Cli;

/// <summary>
/// What the three programs do the same way around ConsoleAppFramework: help pages, usage errors with suggestions,
/// completion scripts, exit codes; all from the <see cref="CommandCatalog"/>.
/// </summary>
internal static class CliApp
{
    public const string ExitCodeHelp = "Exit codes: 0 ok, 1 the operation failed, 2 usage error.";

    /// <param name="run">Runs the framework's app (the registrations) with the given arguments.</param>
    public static async Task<int> RunAsync(string[] args, string program, string description, Func<string[], Task> run)
    {
        var catalog = new CommandCatalog(program, description, helpArgs => CaptureHelp(run, helpArgs));
        try
        {
            if (Prepare(ref args, catalog) is { } exit)
                return exit;
        }
        catch (UsageException ex)
        {
            CliErrors.Report(ex.Code, ex.Message, CliErrors.WantsJson(args));
            return ExitCodes.Usage;
        }
        // The framework reports what the checks here did not foresee through LogError: those are usage errors.
        bool json = CliErrors.WantsJson(args);
        ConsoleApp.LogError = message =>
        {
            CliErrors.Report("usage", message, json);
            UsageErrorReported = true;
        };
        await run(args).ConfigureAwait(false);
        return UsageErrorReported ? ExitCodes.Usage : Environment.ExitCode;
    }

    private static bool UsageErrorReported { get; set; }

    private static string CaptureHelp(Func<string[], Task> run, string[] args)
    {
        var captured = new StringBuilder();
        var log = ConsoleApp.Log;
        ConsoleApp.Log = message => captured.AppendLine(message);
        try
        {
            // Help is written synchronously, before any command runs.
            run(args).GetAwaiter().GetResult();
        }
        finally
        {
            ConsoleApp.Log = log;
        }
        return captured.ToString();
    }

    /// <summary>Help, completion and argument checks; returns an exit code when the program should stop now.</summary>
    internal static int? Prepare(ref string[] args, CommandCatalog catalog)
    {
        string program = catalog.Program;
        bool wantsHelp = args.Any(a => a is "-h" or "--help");
        if (args.Length == 0 && !catalog.HasRootCommand || args is ["-h" or "--help"] || args is ["help"])
        {
            Console.Out.Write(HelpWriter.Root(catalog));
            return ExitCodes.Ok;
        }
        if (args is ["--version"])
            return null;
        if (args is ["completion", .. var shell])
            return Completion(catalog, shell);

        var words = args.TakeWhile(a => !a.StartsWith('-')).ToList();
        string? path = null;
        for (int n = words.Count; n > 0 && path is null; n--)
        {
            string candidate = string.Join(' ', words.Take(n));
            if (catalog.Paths.Contains(candidate))
                path = candidate;
        }
        if (path is null && words.Count > 0)
        {
            if (catalog.Groups.Contains(words[0]) && (words.Count == 1 || wantsHelp))
            {
                Console.Out.Write(HelpWriter.Group(catalog, words[0]));
                return ExitCodes.Ok;
            }
            throw new UsageException(UnknownCommand(catalog, words));
        }
        if (path is null && !catalog.HasRootCommand)
            throw new UsageException($"'{program}' needs a command first. Run '{program} --help' for the list of commands.");
        var command = catalog.Command(path ?? "");
        if (wantsHelp)
        {
            Console.Out.Write(HelpWriter.Command(catalog, command));
            return ExitCodes.Ok;
        }
        int positional = path is null ? 0 : path.Split(' ').Length;
        CheckOptions(catalog, command, args, positional);
        args = CliArgs.CollapseRepeated(args, [.. command.Options.Where(o => o.IsRepeatable).Select(o => o.Name)]);
        return null;
    }

    private static string UnknownCommand(CommandCatalog catalog, List<string> words)
    {
        // The command is one word, or two after a group: "statu web" is about "statu", "peers ad 12D3…" about "peers ad".
        int length = words.Count > 1 && catalog.Groups.Contains(words[0]) ? 2 : 1;
        string typed = string.Join(' ', words.Take(length));
        var candidates = catalog.Paths.Concat(catalog.Groups).Append("completion").Where(c => c.Count(ch => ch == ' ') == length - 1);
        string? best = Suggest.Closest(typed, candidates);
        return $"Unknown command '{typed}'.{(best is null ? "" : $" Did you mean '{catalog.Program} {best}'?")} Run '{catalog.Program} --help' for the list of commands.";
    }

    private static void CheckOptions(CommandCatalog catalog, CliCommand command, string[] args, int skip)
    {
        string where = command.Path.Length == 0 ? catalog.Program : $"{catalog.Program} {command.Path}";
        int arguments = 0;
        for (int i = skip; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--")
                break; // what follows is for someone else (a container's command)
            if (!arg.StartsWith('-') || arg == "-" || IsNegativeNumber(arg))
            {
                arguments++;
                continue;
            }
            string name = arg;
            string? inline = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }
            if (name == "--version")
                continue;
            var option = command.FindOption(name);
            if (option is null)
            {
                string? best = Suggest.Closest(name, command.Options.SelectMany(o => o.Names));
                throw new UsageException($"'{where}' has no option {name}.{(best is null ? "" : $" Did you mean {best}?")} Run '{where} --help' for its options.");
            }
            if (option.IsFlag)
                continue;
            string? value = inline ?? (i + 1 < args.Length ? args[++i] : null);
            if (value is null)
                throw new UsageException($"{option.Name} needs a value: {ValueForm(option)}.");
            if (!Parses(option.Type, value))
                throw new UsageException($"{option.Name} takes {ValueForm(option)}; '{value}' is not one.");
        }
        int required = command.Arguments.Count(a => !a.Optional);
        if (arguments < required)
        {
            var missing = command.Arguments.Where(a => !a.Optional).Skip(arguments).First();
            throw new UsageException($"'{where}' needs {missing.Placeholder} ({missing.Description.TrimEnd('.')}). Run '{where} --help'.");
        }
        if (arguments > command.Arguments.Count)
            throw new UsageException($"'{where}' takes {(command.Arguments.Count == 0 ? "no arguments" : $"at most {command.Arguments.Count} argument{(command.Arguments.Count == 1 ? "" : "s")}")}; got {arguments}. Run '{where} --help'.");
    }

    private static bool IsNegativeNumber(string arg) => arg.Length > 1 && double.TryParse(arg, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static bool Parses(string? type, string value) => type switch
    {
        "int" => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "long" => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "uint" => uint.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "ushort" => ushort.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "double" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
        _ => true,
    };

    /// <summary>"a container port number, e.g. 8080": what the option's description says its value is, else its type.</summary>
    internal static string ValueForm(CliOption option)
    {
        string kind = option.Type switch
        {
            "int" or "long" or "uint" or "ushort" => "a whole number",
            "double" => "a number",
            _ => "a value",
        };
        // Descriptions say what the value is before the first ':' or '(' (e.g. "The container port to expose, e.g. 8080 (default 80).").
        string description = option.Description;
        int eg = description.IndexOf("e.g. ", StringComparison.Ordinal);
        string example = eg < 0 ? "" : ", e.g. " + new string(description[(eg + 5)..].TakeWhile(c => c is not (' ' or ';' or ')' or ',' or ':')).ToArray()).TrimEnd('.');
        if (option.Type is not ("int" or "long" or "uint" or "ushort" or "double"))
            return kind + example;
        string what = Lower(description);
        return (what.StartsWith("a ", StringComparison.Ordinal) || what.StartsWith("an ", StringComparison.Ordinal) ? what : $"{kind} ({what})") + example;
    }

    private static string Lower(string description)
    {
        string first = description.Split(". ")[0].TrimEnd('.');
        int cut = first.IndexOfAny([',', '(', ';']);
        if (cut > 0)
            first = first[..cut].TrimEnd();
        return first.Length > 1 && char.IsUpper(first[0]) && !char.IsUpper(first[1]) ? char.ToLowerInvariant(first[0]) + first[1..] : first;
    }

    private static int Completion(CommandCatalog catalog, string[] shell)
    {
        if (shell is ["-h" or "--help"])
        {
            Console.Out.Write($"Usage: {catalog.Program} completion bash|zsh|fish\n\n{HelpWriter.CompletionSummary}\nE.g. {catalog.Program} completion bash > ~/.local/share/bash-completion/completions/{catalog.Program}\n");
            return ExitCodes.Ok;
        }
        string? script = shell switch
        {
            ["bash"] => CompletionScripts.Bash(catalog),
            ["zsh"] => CompletionScripts.Zsh(catalog),
            ["fish"] => CompletionScripts.Fish(catalog),
            _ => null,
        };
        if (script is null)
        {
            Console.Error.WriteLine($"{Colors.Error("error:")} '{catalog.Program} completion' takes one shell: bash, zsh or fish. E.g. {catalog.Program} completion bash > ~/.local/share/bash-completion/completions/{catalog.Program}");
            return ExitCodes.Usage;
        }
        Console.Out.Write(script);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// The build's version, as the framework prints it for <c>--version</c>: a constant it generates, where reading the
    /// assembly's version attribute cost a third of a millisecond of reflection at every start.
    /// </summary>
    public static string Version => ConsoleApp.BuildVersion;
}

/// <summary>"did you mean": the closest candidate by edit distance, if it is close enough to be the intended one.</summary>
internal static class Suggest
{
    public static string? Closest(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates.Distinct())
        {
            // A prefix ("--prot" of "--protocol") or a close spelling; at most a third of the word wrong.
            int distance = candidate.StartsWith(typed, StringComparison.Ordinal) && typed.TrimStart('-').Length >= 2 ? 1 : Distance(typed, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        return best is not null && bestDistance <= Math.Max(1, typed.TrimStart('-').Length / 3) ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}

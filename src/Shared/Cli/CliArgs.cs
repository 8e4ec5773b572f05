namespace PeerCompute.Cli;

/// <summary>
/// Argument pre-processing the command-line framework does not do for us: repeatable options
/// (<c>--addr A --addr B</c>) and rejecting unknown commands with a usage error instead of printing help.
/// </summary>
internal static class CliArgs
{
    /// <summary>Joins the values of repeated options; <see cref="RepeatedOption"/> splits them again.</summary>
    public const char Separator = '\u001f';

    public static string[] CollapseRepeated(string[] args, params ReadOnlySpan<string> repeatable)
    {
        var result = new List<string>(args.Length);
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                result.AddRange(args.AsSpan(i));
                break;
            }
            string name = arg;
            string? inlineValue = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }
            if (!repeatable.Contains(name))
            {
                result.Add(arg);
                continue;
            }
            string? value = inlineValue ?? (i + 1 < args.Length ? args[++i] : null);
            if (value is null)
                throw new UsageException($"Option {name} needs a value.");
            if (positions.TryGetValue(name, out int at))
            {
                result[at] = result[at] + Separator + value;
            }
            else
            {
                result.Add(name);
                positions[name] = result.Count;
                result.Add(value);
            }
        }
        return [.. result];
    }

    /// <summary>
    /// Checks that the leading words name a known command (or are a help/version flag) so a typo exits 2
    /// with a message instead of printing help and exiting 0.
    /// </summary>
    /// <param name="commands">Every command path, with the number of positional arguments it requires.</param>
    public static void RequireKnownCommand(string[] args, IReadOnlyDictionary<string, int> commands, string program)
    {
        var words = args.TakeWhile(a => !a.StartsWith('-')).ToList();
        if (words.Count == 0)
            return; // root: help, --version, or the root command's own options
        bool wantsHelp = args.Any(a => a is "-h" or "--help");
        for (int n = words.Count; n > 0; n--)
        {
            string path = string.Join(' ', words.Take(n));
            if (commands.TryGetValue(path, out int required))
            {
                // The framework would print help and exit 0 for a bare command that needs arguments.
                if (!wantsHelp && args.Length == n && required > 0)
                    throw new UsageException($"'{program} {path}' needs {(required == 1 ? "an argument" : $"{required} arguments")}. Run '{program} {path} --help'.");
                return; // a known command; any further words are its positional arguments
            }
        }
        string typed = string.Join(' ', words);
        // A group name alone ("peers") shows the group's commands.
        if (commands.Keys.Any(c => c.StartsWith(typed + " ", StringComparison.Ordinal)))
            return;
        throw new UsageException($"Unknown command '{typed}'. Run '{program} --help' for the list of commands.");
    }
}

/// <summary>Values of a repeatable option, e.g. <c>--addr A --addr B</c>.</summary>
internal readonly record struct RepeatedOption(string[] Values) : ISpanParsable<RepeatedOption>
{
    public static RepeatedOption Empty => new([]);

    public static RepeatedOption Parse(string s, IFormatProvider? provider) => new(s.Split(CliArgs.Separator));

    public static bool TryParse(string? s, IFormatProvider? provider, out RepeatedOption result)
    {
        result = s is null ? Empty : Parse(s, provider);
        return s is not null;
    }

    public static RepeatedOption Parse(ReadOnlySpan<char> s, IFormatProvider? provider) => Parse(s.ToString(), provider);

    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out RepeatedOption result) => TryParse(s.ToString(), provider, out result);
}

namespace PeerCompute.Cli;

/// <summary>
/// Argument pre-processing the command-line framework does not do for us: repeatable options
/// (<c>--addr A --addr B</c>); the checks of commands and options are in <see cref="CliApp"/>.
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

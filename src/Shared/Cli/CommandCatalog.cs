using System.Text;

namespace PeerCompute.Cli;

/// <summary>One option of a command, as the framework registered it.</summary>
/// <param name="Names">Its spellings, long one last (<c>-f</c>, <c>--follow</c>).</param>
/// <param name="Type">The C# type the framework binds (<c>int</c>, <c>string</c>, <c>RepeatedOption</c>), null for a flag.</param>
/// <param name="Default">The default the framework shows, already as a user types it (<c>500m</c>), or null.</param>
internal sealed record CliOption(IReadOnlyList<string> Names, string? Type, string Description, string? Default)
{
    public string Name => Names[^1];

    public bool IsFlag => Type is null;

    /// <summary>Given several times (<c>--addr A --addr B</c>): see <see cref="RepeatedOption"/>.</summary>
    public bool IsRepeatable => Type == nameof(RepeatedOption);
}

/// <summary>A positional argument; <paramref name="Placeholder"/> comes from its description (<c>IMAGE: ...</c>).</summary>
internal sealed record CliArgument(string Placeholder, string? Type, bool Optional, string Description);

/// <summary>One command: <paramref name="Path"/> is "" for a program's root command, "peers add" for a sub-command.</summary>
internal sealed record CliCommand(string Path, string Summary, IReadOnlyList<string> Examples, IReadOnlyList<CliArgument> Arguments, IReadOnlyList<CliOption> Options)
{
    public CliOption? FindOption(string name) => Options.FirstOrDefault(o => o.Names.Contains(name, StringComparer.Ordinal));
}

/// <summary>
/// The one list of a program's commands, read from what ConsoleAppFramework generated from the [Command] methods and
/// their XML docs (the framework has no runtime list, but renders each command's help): a command or option added
/// there appears in the help, the argument checks and the completion scripts with nothing else to edit.
/// </summary>
internal sealed class CommandCatalog
{
    private readonly Func<string[], string> _frameworkHelp;
    private readonly Dictionary<string, CliCommand> _details = new(StringComparer.Ordinal);

    /// <param name="frameworkHelp">Runs the framework with the given arguments (a path and --help) and returns what it printed.</param>
    public CommandCatalog(string program, string description, Func<string[], string> frameworkHelp)
    {
        Program = program;
        Description = description;
        _frameworkHelp = frameworkHelp;
        string root = frameworkHelp(["--help"]);
        var sections = Sections(root);
        Paths = sections.TryGetValue("Commands:", out var lines)
            ? [.. lines.Select(l => SplitColumns(l).Left).Where(p => p.Length > 0)]
            : [];
        // A root command has options of its own (peercomputed's daemon); its summary is the paragraph before them.
        HasRootCommand = sections.ContainsKey("Options:") || sections.ContainsKey("Arguments:");
        if (HasRootCommand)
            _details[""] = Parse("", root, program);
        Summaries = sections.TryGetValue("Commands:", out var commandLines)
            ? commandLines.Select(SplitColumns).Where(c => c.Left.Length > 0).ToDictionary(c => c.Left, c => FirstSentences(c.Right, program), StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
    }

    public string Program { get; }

    public string Description { get; }

    public bool HasRootCommand { get; }

    /// <summary>Every command path but the root's, in the framework's (alphabetical) order.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>Each command's summary without its examples, for lists.</summary>
    public IReadOnlyDictionary<string, string> Summaries { get; }

    /// <summary>The groups ("peers", "firewall"): first words shared by commands with two words.</summary>
    public IEnumerable<string> Groups => Paths.Where(p => p.Contains(' ')).Select(p => p[..p.IndexOf(' ')]).Distinct();

    public IEnumerable<string> InGroup(string group) => Paths.Where(p => p.StartsWith(group + " ", StringComparison.Ordinal));

    public CliCommand Command(string path)
    {
        if (!_details.TryGetValue(path, out var command))
            _details[path] = command = Parse(path, _frameworkHelp([.. path.Split(' '), "--help"]), Program);
        return command;
    }

    private static CliCommand Parse(string path, string help, string program)
    {
        var sections = Sections(help);
        string text = string.Join(' ', sections.GetValueOrDefault("", []).Where(l => !l.StartsWith("Usage:", StringComparison.Ordinal) && !l.StartsWith(program + " ", StringComparison.Ordinal) && !l.StartsWith("Exit codes:", StringComparison.Ordinal)).Select(l => l.Trim()));
        var (summary, examples) = SplitExamples(text, program);
        var arguments = sections.GetValueOrDefault("Arguments:", []).Select(SplitColumns).Where(c => c.Left.Length > 0).Select(c =>
        {
            string? type = TypeOf(c.Left);
            var (description, _) = SplitDefault(c.Right);
            int colon = description.IndexOf(": ", StringComparison.Ordinal);
            bool hasPlaceholder = colon > 0 && description[..colon].All(ch => char.IsAsciiLetterUpper(ch) || ch is '-' or '|' or '_');
            return new CliArgument(hasPlaceholder ? description[..colon] : "ARG", type?.TrimEnd('?'), type?.EndsWith('?') == true, hasPlaceholder ? description[(colon + 2)..] : description);
        }).ToList();
        var options = sections.GetValueOrDefault("Options:", []).Select(SplitColumns).Where(c => c.Left.StartsWith('-')).Select(c =>
        {
            string? type = TypeOf(c.Left);
            string names = type is null ? c.Left : c.Left[..c.Left.IndexOf('<')].Trim();
            var (description, defaultValue) = SplitDefault(c.Right);
            return new CliOption([.. names.Split(", ", StringSplitOptions.TrimEntries)], type?.TrimEnd('?'), description, defaultValue);
        }).ToList();
        return new CliCommand(path, summary, examples, arguments, options);
    }

    /// <summary>The framework writes a paragraph, then "Arguments:", "Options:", "Commands:" blocks of indented lines.</summary>
    private static Dictionary<string, List<string>> Sections(string help)
    {
        var sections = new Dictionary<string, List<string>>(StringComparer.Ordinal) { [""] = [] };
        string current = "";
        foreach (string line in help.Split('\n'))
        {
            string l = line.TrimEnd('\r');
            if (l is "Arguments:" or "Options:" or "Commands:")
                sections[current = l] = [];
            else if (l.Trim().Length > 0)
                sections[current].Add(l);
        }
        return sections;
    }

    private static (string Left, string Right) SplitColumns(string line)
    {
        string t = line.Trim();
        int gap = t.IndexOf("  ", StringComparison.Ordinal);
        return gap < 0 ? (t, "") : (t[..gap], t[gap..].Trim());
    }

    private static string? TypeOf(string left)
    {
        int lt = left.IndexOf('<');
        return lt < 0 ? null : left[(lt + 1)..left.LastIndexOf('>')];
    }

    /// <summary>"... [Default: @"500m"]" -> ("...", "500m"); "[Default: null]" and "[Default: False]" show nothing.</summary>
    private static (string Description, string? Default) SplitDefault(string text)
    {
        int at = text.LastIndexOf("[Default: ", StringComparison.Ordinal);
        if (at < 0 || !text.EndsWith(']'))
            return (text, null);
        string value = text[(at + 10)..^1];
        if (value.StartsWith("@\"", StringComparison.Ordinal) && value.EndsWith('"'))
            value = value[2..^1].Replace("\"\"", "\"", StringComparison.Ordinal);
        else if (value.StartsWith('"') && value.EndsWith('"'))
            value = value[1..^1];
        return (text[..at].TrimEnd(), value is "null" or "False" or "default" ? null : value);
    }

    /// <summary>"Does X. Examples: prog a ; prog b" -> ("Does X.", ["prog a", "prog b"]): each example starts with the program's name.</summary>
    private static (string Summary, IReadOnlyList<string> Examples) SplitExamples(string text, string program)
    {
        int at = text.IndexOf("Example", StringComparison.Ordinal);
        int colon = at < 0 ? -1 : text.IndexOf(':', at);
        if (at < 0 || colon < 0 || colon - at > 9)
            return (text, []);
        var examples = new List<string>();
        string rest = text[(colon + 1)..];
        var current = new StringBuilder();
        foreach (string word in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (word == program && current.Length > 0)
            {
                examples.Add(current.ToString().Trim().TrimEnd(';').Trim());
                current.Clear();
            }
            current.Append(word).Append(' ');
        }
        if (current.Length > 0)
            examples.Add(current.ToString().Trim().TrimEnd(';').Trim());
        return (text[..at].Trim(), examples);
    }

    private static string FirstSentences(string text, string program) => SplitExamples(text, program).Summary;
}

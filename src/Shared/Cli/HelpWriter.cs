using System.Text;

namespace PeerCompute.Cli;

/// <summary>
/// Help pages written from the <see cref="CommandCatalog"/>: the program's name in Usage, defaults as they are typed,
/// value names instead of C# types, one example a line, a page per command group.
/// </summary>
internal static class HelpWriter
{
    public static string Root(CommandCatalog catalog)
    {
        var text = new StringBuilder();
        text.Append(catalog.Program).Append(' ').Append(CliApp.Version).Append(": ").AppendLine(catalog.Description).AppendLine();
        text.AppendLine("Usage:");
        if (catalog.HasRootCommand)
            text.Append("  ").Append(catalog.Program).AppendLine(" [options]");
        text.Append("  ").Append(catalog.Program).AppendLine(" <command> [arguments] [options]");
        text.Append("  ").Append(catalog.Program).AppendLine(" <command> --help");
        if (catalog.HasRootCommand)
        {
            var root = catalog.Command("");
            text.AppendLine().AppendLine(root.Summary);
            AppendExamples(text, root.Examples);
            AppendOptions(text, root.Options);
        }
        AppendCommands(text, catalog, [.. catalog.Paths, "completion"]);
        text.AppendLine().AppendLine(CliApp.ExitCodeHelp);
        return text.ToString();
    }

    public const string CompletionSummary = "Print the shell completion script: completion bash, completion zsh or completion fish.";

    public static string Group(CommandCatalog catalog, string group)
    {
        var text = new StringBuilder();
        text.AppendLine("Usage:");
        text.Append("  ").Append(catalog.Program).Append(' ').Append(group).AppendLine(" <command> [arguments] [options]");
        AppendCommands(text, catalog, catalog.InGroup(group));
        text.AppendLine().Append("Run '").Append(catalog.Program).Append(' ').Append(group).AppendLine(" <command> --help' for one command's options.");
        return text.ToString();
    }

    public static string Command(CommandCatalog catalog, CliCommand command)
    {
        var text = new StringBuilder();
        text.Append("Usage: ").Append(catalog.Program);
        if (command.Path.Length > 0)
            text.Append(' ').Append(command.Path);
        foreach (var argument in command.Arguments)
            text.Append(' ').Append(argument.Optional ? $"[{argument.Placeholder}]" : argument.Placeholder);
        if (command.Options.Count > 0)
            text.Append(" [options]");
        text.AppendLine().AppendLine().AppendLine(command.Summary);
        AppendExamples(text, command.Examples);
        if (command.Arguments.Count > 0)
        {
            text.AppendLine().AppendLine("Arguments:");
            AppendTable(text, command.Arguments.Select(a => (a.Placeholder, a.Description + (a.Optional ? " (optional)" : ""))));
        }
        AppendOptions(text, command.Options);
        text.AppendLine().AppendLine(CliApp.ExitCodeHelp);
        return text.ToString();
    }

    private static void AppendExamples(StringBuilder text, IReadOnlyList<string> examples)
    {
        if (examples.Count == 0)
            return;
        text.AppendLine().AppendLine(examples.Count == 1 ? "Example:" : "Examples:");
        foreach (string example in examples)
            text.Append("  ").AppendLine(example);
    }

    private static void AppendOptions(StringBuilder text, IReadOnlyList<CliOption> options)
    {
        text.AppendLine().AppendLine("Options:");
        var rows = options.Select(o => (string.Join(", ", o.Names) + (o.IsFlag ? "" : " " + ValueName(o)), Describe(o))).ToList();
        rows.Add(("-h, --help", "Show this help."));
        AppendTable(text, rows);
    }

    private static void AppendCommands(StringBuilder text, CommandCatalog catalog, IEnumerable<string> paths)
    {
        text.AppendLine().AppendLine("Commands:");
        AppendTable(text, paths.Select(p => (p, p == "completion" ? CompletionSummary : catalog.Summaries.GetValueOrDefault(p, ""))));
    }

    private static void AppendTable(StringBuilder text, IEnumerable<(string Left, string Right)> rows)
    {
        var list = rows.ToList();
        int width = list.Count == 0 ? 0 : list.Max(r => r.Left.Length);
        foreach (var (left, right) in list)
            text.Append("  ").Append(left.PadRight(width)).Append("  ").AppendLine(right).Replace(" \n", "\n");
    }

    /// <summary>What the user types as the value: from the type, or the option's own name for text (<c>--peer PEER</c>).</summary>
    public static string ValueName(CliOption option) => option.Type switch
    {
        "int" or "long" or "uint" or "ulong" or "ushort" => "N",
        "double" or "float" or "decimal" => "NUMBER",
        _ => option.Name.TrimStart('-').ToUpperInvariant(),
    } + (option.IsRepeatable ? "..." : "");

    private static string Describe(CliOption option)
    {
        string description = option.Description;
        // The framework's default only where the description does not already say it.
        if (option.Default is { } value && !description.Contains("default", StringComparison.OrdinalIgnoreCase))
            description = description.EndsWith('.') ? $"{description[..^1]} (default: {value})." : $"{description} (default: {value})";
        return description;
    }
}

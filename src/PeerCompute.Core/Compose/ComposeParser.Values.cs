using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PeerCompute.Core.Compose;

public static partial class ComposeParser
{
    // YAML values as the subset reads them: names, mappings, lists, scalars, booleans, durations, shell words; errors with their line.
    private sealed partial class Reader
    {
        private void CheckName(string name, YamlNode node, string section)
        {
            if (name.Length is 0 or > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name[0] == '-' || name[^1] == '-')
                throw Fail(node, $"{section}.{name}: the name must be a DNS label (lowercase letters, digits and '-', at most 63)");
        }

        private ComposeException Unsupported(YamlNode map, string key, string path)
        {
            string at = path.Length == 0 ? key : $"{path}.{key}";
            return Fail(KeyNode((YamlMappingNode)map, key), $"{at} is not supported");
        }

        private static YamlNode KeyNode(YamlMappingNode map, string key)
            => map.Children.Keys.First(k => k is YamlScalarNode s && s.Value == key);

        /// <summary>A mapping's entries by string key; <c>x-</c> keys (extensions, free-form by the specification) are skipped where allowed.</summary>
        private List<KeyValuePair<string, YamlNode>> Entries(YamlMappingNode map, string path, bool extensions = true)
        {
            var result = new List<KeyValuePair<string, YamlNode>>(map.Children.Count);
            foreach (var (key, value) in map.Children)
            {
                if (key is not YamlScalarNode { Value: { } name })
                    throw Fail(key, $"{(path.Length == 0 ? "the file" : path)}: keys must be plain strings");
                if (extensions && name.StartsWith("x-", StringComparison.Ordinal))
                    continue;
                result.Add(new(name, value));
            }
            return result;
        }

        private YamlMappingNode Mapping(YamlNode node, string path)
            => node as YamlMappingNode ?? throw Fail(node, $"{path} must be a mapping (key: value)");

        private YamlSequenceNode Sequence(YamlNode node, string path)
            => node as YamlSequenceNode ?? throw Fail(node, $"{path} must be a list");

        private string Scalar(YamlNode node, string path)
            => node is YamlScalarNode { Value: { } value } ? value : throw Fail(node, $"{path} must be a single value");

        private List<string> Strings(YamlNode node, string path) => [.. Sequence(node, path).Children.Select(n => Scalar(n, path))];

        private bool Boolean(YamlNode node, string path) => Scalar(node, path) switch
        {
            "true" or "True" or "TRUE" => true,
            "false" or "False" or "FALSE" => false,
            var other => throw Fail(node, $"{path}: '{other}' is not true or false"),
        };

        /// <summary>Compose durations: <c>1m30s</c>, <c>10s</c>, <c>500ms</c>, <c>1h</c>.</summary>
        private TimeSpan Duration(YamlNode node, string path)
        {
            string text = Scalar(node, path);
            var total = TimeSpan.Zero;
            int i = 0;
            while (i < text.Length)
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                    i++;
                int unitStart = i;
                while (i < text.Length && char.IsAsciiLetterLower(text[i]))
                    i++;
                if (unitStart == start || !double.TryParse(text.AsSpan(start, unitStart - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n))
                    throw Fail(node, $"{path}: '{text}' is not a duration (examples: 10s, 1m30s, 500ms)");
                total += text[unitStart..i] switch
                {
                    "h" => TimeSpan.FromHours(n),
                    "m" => TimeSpan.FromMinutes(n),
                    "s" => TimeSpan.FromSeconds(n),
                    "ms" => TimeSpan.FromMilliseconds(n),
                    "us" => TimeSpan.FromMicroseconds(n),
                    _ => throw Fail(node, $"{path}: '{text}' is not a duration (examples: 10s, 1m30s, 500ms)"),
                };
            }
            if (text.Length == 0)
                throw Fail(node, $"{path} is empty");
            return total;
        }

        /// <summary>A command written as one string, split into words as a POSIX shell would (quotes and backslashes; no expansion).</summary>
        private List<string> ShellWords(YamlNode node, string path)
        {
            string text = Scalar(node, path);
            var words = new List<string>();
            var word = new StringBuilder();
            bool inWord = false;
            char quote = '\0';
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (quote == '\'')
                {
                    if (c == '\'')
                        quote = '\0';
                    else
                        word.Append(c);
                }
                else if (quote == '"')
                {
                    if (c == '"')
                        quote = '\0';
                    else if (c == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`')
                        word.Append(text[++i]);
                    else
                        word.Append(c);
                }
                else if (char.IsWhiteSpace(c))
                {
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                else
                {
                    inWord = true;
                    if (c is '\'' or '"')
                        quote = c;
                    else if (c == '\\' && i + 1 < text.Length)
                        word.Append(text[++i]);
                    else
                        word.Append(c);
                }
            }
            if (quote != '\0')
                throw Fail(node, $"{path}: unterminated {(quote == '"' ? "double" : "single")} quote");
            if (inWord)
                words.Add(word.ToString());
            if (words.Count == 0)
                throw Fail(node, $"{path} is empty");
            return words;
        }

        private static string YamlReason(YamlException ex)
        {
            // "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): While scanning ..." → the words after the marks.
            string message = ex.Message;
            int marks = message.IndexOf("): ", StringComparison.Ordinal);
            return marks >= 0 && message.StartsWith("(Line", StringComparison.Ordinal) ? message[(marks + 3)..] : message;
        }
    }
}

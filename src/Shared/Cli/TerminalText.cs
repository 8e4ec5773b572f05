using System.Globalization;
using System.Text;

namespace PeerCompute.Cli;

/// <summary>
/// Text from elsewhere (a provider's error message, a deployment's name, a container's log line) made safe to print
/// for a person: control characters (C0, DEL, C1, so escape sequences too) and the bidirectional overrides that
/// reorder what a terminal shows are written as visible escapes (<c>\x1B</c>, <c>\u202E</c>), so nothing printed can
/// move the cursor, retitle the window, or make one text look like another. Machine output (--json) needs none of
/// this: the JSON encoder escapes those characters itself.
/// </summary>
internal static class TerminalText
{
    public static string Neutralise(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return text ?? "";
        int first = IndexOfUnsafe(text);
        if (first < 0)
            return text;
        var builder = new StringBuilder(text.Length + 16);
        builder.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!IsUnsafe(c))
                builder.Append(c);
            else if (c <= '\u00FF')
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            else
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
        }
        return builder.ToString();
    }

    private static int IndexOfUnsafe(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (IsUnsafe(text[i]))
                return i;
        }
        return -1;
    }

    private static bool IsUnsafe(char c) =>
        c < '\u0020' || c is >= '\u007F' and <= '\u009F'
        || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069' || c is '\u200E' or '\u200F' or '\u061C';
}

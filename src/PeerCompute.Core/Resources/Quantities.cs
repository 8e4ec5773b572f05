using System.Globalization;

namespace PeerCompute.Core.Resources;

/// <summary>Parses the sizes and CPU amounts people type: <c>256MB</c>, <c>1GiB</c>, <c>512m</c>; <c>500m</c>, <c>0.5</c>, <c>2</c>.</summary>
public static class Quantities
{
    /// <summary>
    /// Bytes from a size. Suffixes are case-insensitive: k/kb/kib, m/mb/mib, g/gb/gib, t/tb/tib (all 1024-based,
    /// as Docker reads them), b or none for bytes.
    /// </summary>
    public static bool TryParseBytes(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var s = text.Trim().ToLowerInvariant();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            i++;
        if (i == 0 || !decimal.TryParse(s.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            return false;
        long multiplier = s[i..].Trim() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0 || number > long.MaxValue / multiplier)
            return false;
        decimal value = decimal.Round(number * multiplier);
        if (value <= 0)
            return false;
        bytes = (long)value;
        return true;
    }

    public static long ParseBytes(string text) =>
        TryParseBytes(text, out long bytes) ? bytes : throw new FormatException($"'{text}' is not a size (examples: 256MB, 1GiB, 512m).");

    /// <summary>Millicores from <c>500m</c> (millicores), <c>0.5</c> or <c>2</c> (cores).</summary>
    public static bool TryParseMillicores(string? text, out int millicores)
    {
        millicores = 0;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var s = text.Trim().ToLowerInvariant();
        bool milli = s.EndsWith('m');
        if (milli)
            s = s[..^1];
        // Bounded before the multiplication, which would overflow decimal for 29-digit input.
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number) || number > int.MaxValue)
            return false;
        decimal value = milli ? number : number * 1000;
        if (value is <= 0 or > int.MaxValue || value != decimal.Truncate(value))
            return false;
        millicores = (int)value;
        return true;
    }

    public static int ParseMillicores(string text) =>
        TryParseMillicores(text, out int m) ? m : throw new FormatException($"'{text}' is not a CPU amount (examples: 500m, 0.5, 2).");

    /// <summary>A size for people: 256MiB, 1.5GiB.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value % 1 == 0 ? $"{value:0}{units[unit]}" : $"{value:0.##}{units[unit]}";
    }

    public static string FormatMillicores(int millicores) => millicores % 1000 == 0 ? $"{millicores / 1000}" : $"{millicores}m";
}

using System.Buffers;
using System.Globalization;
using System.Text;

namespace PeerCompute.Runtime.Logs;

/// <summary>
/// Splits one demultiplexed output stream into lines. Pure over bytes: feed what arrived, take
/// whole lines out, and what is left waits for more. A line longer than the cap is cut into pieces
/// so a container cannot make the reader buffer without bound.
/// </summary>
internal sealed class LogLineSplitter
{
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _length;

    public LogLineSplitter(int maxLineBytes = 64 * 1024)
    {
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(4096, maxLineBytes)];
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes.Length));
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Takes the next complete line (newline removed), or a full-size piece of an overlong one.</summary>
    public bool TryTakeLine(out string line)
    {
        var pending = _buffer.AsSpan(0, _length);
        if (TryRead(pending, _maxLineBytes, out line, out int consumed) != OperationStatus.Done)
            return false;
        pending[consumed..].CopyTo(_buffer);
        _length -= consumed;
        return true;
    }

    /// <summary>
    /// The first line of <paramref name="input"/> without its newline (and a CR before it): Done with the bytes it
    /// took, or a <paramref name="maxLineBytes"/> piece of a line that long without a newline yet; NeedMoreData
    /// when the line has not ended (nothing consumed). Never InvalidData: any bytes are text to show.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, int maxLineBytes, out string line, out int consumed)
    {
        int newline = input.IndexOf((byte)'\n');
        int take;
        if (newline >= 0 && newline <= maxLineBytes)
        {
            take = newline;
            consumed = newline + 1;
        }
        else if (input.Length >= maxLineBytes)
        {
            take = maxLineBytes;
            consumed = maxLineBytes;
        }
        else
        {
            line = "";
            consumed = 0;
            return OperationStatus.NeedMoreData;
        }
        int end = take > 0 && input[take - 1] == (byte)'\r' ? take - 1 : take;
        line = Encoding.UTF8.GetString(input[..end]);
        return OperationStatus.Done;
    }

    /// <summary>What is left when the stream ended without a final newline.</summary>
    public bool TryTakeRest(out string line)
    {
        if (_length == 0)
        {
            line = "";
            return false;
        }
        line = Encoding.UTF8.GetString(_buffer, 0, _length);
        _length = 0;
        return true;
    }
}

/// <summary>Parses the engine's timestamp prefix (<c>2024-05-01T12:34:56.123456789Z text</c>).</summary>
internal static class LogLineParser
{
    public static ContainerLogLine Parse(string line, LogStream stream)
    {
        int space = line.IndexOf(' ');
        if (space > 0 && TryParseTimestamp(line.AsSpan(0, space), out var timestamp))
            return new ContainerLogLine(stream, timestamp, line[(space + 1)..]);
        return new ContainerLogLine(stream, DateTimeOffset.MinValue, line);
    }

    /// <summary>RFC 3339 with up to nine fractional digits; .NET keeps seven, so the rest is dropped.</summary>
    public static bool TryParseTimestamp(ReadOnlySpan<char> text, out DateTimeOffset timestamp)
    {
        Span<char> trimmed = stackalloc char[40];
        if (text.Length > 40)
        {
            timestamp = default;
            return false;
        }
        int dot = text.IndexOf('.');
        int length;
        if (dot < 0)
        {
            text.CopyTo(trimmed);
            length = text.Length;
        }
        else
        {
            int zone = dot + 1;
            while (zone < text.Length && char.IsAsciiDigit(text[zone]))
                zone++;
            int digits = Math.Min(zone - dot - 1, 7);
            text[..(dot + 1 + digits)].CopyTo(trimmed);
            length = dot + 1 + digits;
            text[zone..].CopyTo(trimmed[length..]);
            length += text.Length - zone;
        }
        return DateTimeOffset.TryParse(trimmed[..length], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp);
    }

    /// <summary>The engine's <c>since</c> argument: seconds since the epoch with nanoseconds.</summary>
    public static string FormatSince(DateTimeOffset since)
    {
        long ticks = since.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long remainder);
        return string.Create(CultureInfo.InvariantCulture, $"{seconds}.{remainder * 100:D9}");
    }
}

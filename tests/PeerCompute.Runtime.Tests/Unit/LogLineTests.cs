using System.Buffers;
using System.Text;
using PeerCompute.Runtime.Logs;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class LogLineTests
{
    [Test]
    public async Task Lines_split_across_chunks_come_out_whole()
    {
        var splitter = new LogLineSplitter();
        splitter.Append("first li"u8);
        await Assert.That(splitter.TryTakeLine(out _)).IsFalse();
        splitter.Append("ne\r\nsecond\nthi"u8);
        await Assert.That(splitter.TryTakeLine(out string one)).IsTrue();
        await Assert.That(one).IsEqualTo("first line");
        await Assert.That(splitter.TryTakeLine(out string two)).IsTrue();
        await Assert.That(two).IsEqualTo("second");
        await Assert.That(splitter.TryTakeLine(out _)).IsFalse();
        await Assert.That(splitter.TryTakeRest(out string rest)).IsTrue();
        await Assert.That(rest).IsEqualTo("thi");
    }

    [Test]
    public async Task An_overlong_line_is_cut_instead_of_buffered_without_bound()
    {
        var splitter = new LogLineSplitter(maxLineBytes: 8);
        splitter.Append(Encoding.UTF8.GetBytes("abcdefghijkl\n"));
        await Assert.That(splitter.TryTakeLine(out string first)).IsTrue();
        await Assert.That(first).IsEqualTo("abcdefgh");
        await Assert.That(splitter.TryTakeLine(out string second)).IsTrue();
        await Assert.That(second).IsEqualTo("ijkl");
    }

    [Test]
    public async Task The_engine_timestamp_prefix_is_parsed_with_nanoseconds()
    {
        var entry = LogLineParser.Parse("2026-11-24T05:01:02.123456789Z hello world", LogStream.Stderr);
        await Assert.That(entry.Text).IsEqualTo("hello world");
        await Assert.That(entry.Stream).IsEqualTo(LogStream.Stderr);
        await Assert.That(entry.Timestamp).IsEqualTo(new DateTimeOffset(2026, 11, 24, 5, 1, 2, TimeSpan.Zero).AddTicks(1234567));
    }

    [Test]
    public async Task A_line_without_a_timestamp_is_kept_whole()
    {
        var entry = LogLineParser.Parse("no stamp here", LogStream.Stdout);
        await Assert.That(entry.Text).IsEqualTo("no stamp here");
        await Assert.That(entry.Timestamp).IsEqualTo(DateTimeOffset.MinValue);
    }

    [Test]
    public async Task Since_is_formatted_as_epoch_seconds_with_nanoseconds()
    {
        var since = DateTimeOffset.UnixEpoch.AddSeconds(1_700_000_000).AddTicks(1234567);
        await Assert.That(LogLineParser.FormatSince(since)).IsEqualTo("1700000000.123456700");
    }

    [Test]
    public async Task The_pure_line_reader_says_need_more_until_a_line_ends_or_reaches_the_cap()
    {
        await Assert.That(LogLineSplitter.TryRead("no end yet"u8, 64, out _, out int none)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(none).IsEqualTo(0);
        await Assert.That(LogLineSplitter.TryRead("one\r\ntwo"u8, 64, out string line, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(line).IsEqualTo("one");
        await Assert.That(consumed).IsEqualTo(5);
        await Assert.That(LogLineSplitter.TryRead("abcdefghij"u8, 4, out string piece, out int cut)).IsEqualTo(OperationStatus.Done);
        await Assert.That(piece).IsEqualTo("abcd");
        await Assert.That(cut).IsEqualTo(4);
    }
}

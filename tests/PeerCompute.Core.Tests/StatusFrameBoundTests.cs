using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Tests;

/// <summary>
/// A status response carries the last log lines of stopped containers: text the container chose. Twenty 64 KiB lines
/// of characters the JSON encoder escapes are several MiB on the wire, over the 1 MiB frame the client reads with.
/// </summary>
public sealed class StatusFrameBoundTests
{
    private const int LineLength = 64 * 1024;

    // '"' escapes to two bytes, a control character and '<' to six: the wire size is far over the raw length.
    private static string HostileLine(int i) => string.Concat(Enumerable.Repeat("\"\u0001<", LineLength / 3)) + $"line-{i:00}";

    private static DeploymentInfo Stopped(string name, int lines) => new(
        "id-" + name, name, "img", "exited", 250, 64L << 20, DateTimeOffset.UnixEpoch, ExitCode: 1,
        LastLogLines: [.. Enumerable.Range(0, lines).Select(HostileLine)]);

    [Test]
    public async Task The_writer_never_sends_a_frame_the_peer_would_refuse_and_the_stream_stays_usable()
    {
        var response = new StatusResponse("provider", [Stopped("web", 20)]);
        using var stream = new MemoryStream();
        var writer = new FrameWriter(stream);

        var refused = await Assert.ThrowsAsync<FrameException>(async () =>
            await writer.WriteAsync(FrameType.StatusResponse, response, ProtocolJsonContext.Default.StatusResponse, CancellationToken.None));
        await Assert.That(refused!.Code).IsEqualTo(ErrorCodes.FrameTooLarge);
        await Assert.That(stream.Length).IsEqualTo(0L);

        await writer.WriteErrorAsync(refused.Code, refused.Message, CancellationToken.None);
        stream.Position = 0;
        using var frame = (await new FrameReader(stream).ReadAsync(CancellationToken.None))!.Value;
        await Assert.That(frame.Type).IsEqualTo(FrameType.Error);
    }

    [Test]
    public async Task Twenty_escaped_64KiB_lines_are_cut_to_the_budget_newest_kept_and_status_fits_a_frame()
    {
        var limits = new StatusLimits();
        var response = StatusBudget.Fit(new StatusResponse("provider", [Stopped("web", 20)]), limits);

        var lines = response.Deployments.Single().LastLogLines!;
        await Assert.That(lines.Count).IsGreaterThanOrEqualTo(1);
        await Assert.That(lines[^1]).EndsWith("line-19");
        await Assert.That(lines[^1]).StartsWith(StatusBudget.CutMark);
        await Assert.That(EscapedSize(lines)).IsLessThanOrEqualTo(limits.MaxLogBytesPerDeployment);

        var decoded = await RoundTripAsync(response);
        await Assert.That(decoded.Deployments.Single().LastLogLines!.SequenceEqual(lines)).IsTrue();
    }

    [Test]
    public async Task Many_stopped_deployments_share_the_total_budget()
    {
        var limits = new StatusLimits { MaxLogBytesPerDeployment = 64 * 1024, MaxLogBytesTotal = 200 * 1024 };
        var response = StatusBudget.Fit(new StatusResponse("provider", [.. Enumerable.Range(0, 40).Select(i => Stopped($"app{i}", 20))]), limits);

        await Assert.That(response.Deployments.Count).IsEqualTo(40);
        await Assert.That(response.Deployments.Sum(d => EscapedSize(d.LastLogLines!))).IsLessThanOrEqualTo(limits.MaxLogBytesTotal);
        await Assert.That(response.Deployments[0].LastLogLines![^1]).EndsWith("line-19");
        var decoded = await RoundTripAsync(response);
        await Assert.That(decoded.Deployments.Count).IsEqualTo(40);
    }

    [Test]
    public async Task Short_logs_pass_unchanged()
    {
        var response = new StatusResponse("provider", [Stopped("web", 0) with { LastLogLines = ["starting", "bad \"config\""] }]);
        await Assert.That(StatusBudget.Fit(response, new StatusLimits())).IsSameReferenceAs(response);
    }

    private static int EscapedSize(IReadOnlyList<string> lines)
    {
        var encoder = ProtocolJsonContext.Default.Options.Encoder ?? JavaScriptEncoder.Default;
        return lines.Sum(l => JsonEncodedText.Encode(l, encoder).EncodedUtf8Bytes.Length + 3);
    }

    private static async Task<StatusResponse> RoundTripAsync(StatusResponse response)
    {
        using var stream = new MemoryStream();
        await new FrameWriter(stream).WriteAsync(FrameType.StatusResponse, response, ProtocolJsonContext.Default.StatusResponse, CancellationToken.None);
        stream.Position = 0;
        using var frame = (await new FrameReader(stream).ReadAsync(CancellationToken.None))!.Value;
        await Assert.That(frame.Type).IsEqualTo(FrameType.StatusResponse);
        return FrameCodec.Deserialize(frame.Payload, ProtocolJsonContext.Default.StatusResponse);
    }
}

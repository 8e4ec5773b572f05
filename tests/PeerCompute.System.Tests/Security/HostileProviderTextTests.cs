using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Net.Host;
using PeerCompute.System.Tests.Build;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// A trusted provider answers with text full of terminal escapes (clear screen, retitle, a bidi override) in names,
/// states, log lines and error messages. The real peerctl (the published binary) prints none of
/// those characters in its human output, shows them as visible escapes instead, and <c>logs</c> still passes the
/// container's bytes through untouched when its output is a pipe.
/// </summary>
public sealed class HostileProviderTextTests
{
    private const string Escapes = "\u001b[2J\u001b]0;owned\u0007\r\u202Egnp.exe";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Test]
    public async Task Human_output_neutralises_provider_text_and_logs_to_a_pipe_keep_the_bytes()
    {
        using var identity = PeerIdentity.Generate();
        await using var provider = new Libp2pHost(identity);
        provider.SetStreamHandler(ProtocolIds.PeerCompute, (stream, ct) => AnswerAsync(stream.Stream, ct));
        var address = await provider.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));

        string home = Path.Combine(Directory.CreateTempSubdirectory("pc-hostile-").FullName, "home");
        try
        {
            var env = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["PEERCOMPUTE_IDENTITY_KEY"] = null, ["CI"] = "true" };
            await RunOkAsync(env, "init", "--json");
            await RunOkAsync(env, "peers", "add", identity.PeerId.ToString(), "--name", "hostile", "--addr", address.ToString());

            var status = await RunAsync(env, "status");
            await Assert.That(status.ExitCode).IsEqualTo(0);
            await Assert.That(HasControl(status.StandardOutput)).IsFalse();
            await Assert.That(status.StandardOutput).Contains("\\x1B[2J");
            await Assert.That(status.StandardOutput).Contains("\\x0D\\u202Egnp.exe");

            var stop = await RunAsync(env, "stop", "web");
            await Assert.That(stop.ExitCode).IsNotEqualTo(0);
            await Assert.That(HasControl(stop.StandardError)).IsFalse();
            await Assert.That(stop.StandardError).Contains("refused: boom \\x1B[2J");

            var logs = await RunAsync(env, "logs", "web");
            await Assert.That(logs.ExitCode).IsEqualTo(0);
            // The test reads output line by line, and a line reader ends a line at the raw '\r' too.
            await Assert.That(logs.StandardOutput).Contains("raw" + Escapes[..Escapes.IndexOf('\r')]);
            await Assert.That(logs.StandardOutput).Contains("\u202Egnp.exe");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(home)!, recursive: true);
        }
    }

    // Line ends aside, no control character and no bidi override may reach the terminal.
    private static bool HasControl(string text) =>
        text.Any(c => (c < ' ' && c != '\n') || c is >= '\u007F' and <= '\u009F' || c is >= '\u202A' and <= '\u202E');

    private static async Task AnswerAsync(Stream stream, CancellationToken ct)
    {
        var reader = new FrameReader(stream);
        var writer = new FrameWriter(stream);
        FrameType type;
        using (var request = (await reader.ReadAsync(ct))!.Value)
            type = request.Type;
        using (var _ = (await reader.ReadAsync(ct))!.Value) // the signature: this fake trusts everyone
        {
        }
        switch (type)
        {
            case FrameType.StatusRequest:
                var info = new DeploymentInfo("id" + Escapes, "web" + Escapes, "img" + Escapes, "exited" + Escapes, 250, 64L << 20,
                    DateTimeOffset.UnixEpoch, LocalUrl: "http://x" + Escapes, ExitCode: 1, LastLogLines: ["last" + Escapes]);
                await writer.WriteAsync(FrameType.StatusResponse, new StatusResponse("p" + Escapes, [info]), ProtocolJsonContext.Default.StatusResponse, ct);
                break;
            case FrameType.LogsRequest:
                await writer.WriteAsync(FrameType.LogEntry, new LogEntry("stdout", DateTimeOffset.UnixEpoch, "raw" + Escapes), ProtocolJsonContext.Default.LogEntry, ct);
                break;
            default:
                await writer.WriteErrorAsync(ErrorCodes.Internal, "boom " + Escapes, ct);
                break;
        }
        await stream.FlushAsync(ct);
        stream.Close();
    }


    private static Task<ProcessResult> RunAsync(IReadOnlyDictionary<string, string?> env, params string[] args) =>
        TestProcess.RunAsync(PeerNode.Peerctl, [.. args], env, Bound);

    private static async Task RunOkAsync(IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        var result = await RunAsync(env, args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"peerctl {string.Join(' ', args)} failed: {result}");
    }
}

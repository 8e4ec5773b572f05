using System.Buffers;
using PeerCompute.Mux;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// yamux: frame headers parsed one after another (each re-encodes to its 12 bytes; a bad one is
/// InvalidData, never an exception), then a whole session fed the input as the peer's bytes,
/// with every stream it accepts read to the end. The session must end (no hang) with no error or a
/// <see cref="MuxProtocolException"/>, never another exception type.
/// Input: byte 0 = role (bit 0) and read chunk, then the peer's frames.
/// </summary>
public sealed class YamuxTarget : FuzzTarget
{
    private static readonly YamuxOptions Options = new()
    {
        KeepAliveInterval = Timeout.InfiniteTimeSpan,
        MaxStreams = 8,
        AcceptBacklog = 4,
        ReadBufferSize = 4096,
    };

    public override string Name => "yamux";
    public override string Description => "YamuxFrameHeader.TryRead and YamuxSession input (both roles)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        bool isClient = (input[0] & 1) == 1;
        int chunk = 1 + (input[0] >> 1);
        var data = input[1..].ToArray();

        var rest = data.AsSpan();
        while (YamuxFrameHeader.TryRead(rest, out var header, out int consumed) == OperationStatus.Done)
        {
            Check(consumed == YamuxFrameHeader.Size && header.ToArray().AsSpan().SequenceEqual(rest[..YamuxFrameHeader.Size]), "re-encoding a header changed its bytes");
            rest = rest[consumed..];
            if (header.Type == YamuxFrameType.Data)
                rest = rest[(int)Math.Min(header.Length, (uint)rest.Length)..];
        }

        var error = Await(async ct =>
        {
            var session = YamuxSession.Start(new InputOutputStream(data, chunk), isClient, Options);
            var readers = new List<Task>();
            while (await session.AcceptStreamAsync(ct) is { } stream)
                readers.Add(DrainAsync(stream, ct));
            await session.Completion.WaitAsync(ct);
            await Task.WhenAll(readers);
            var e = session.Error;
            await session.DisposeAsync();
            return e;
        });
        if (error is not null and not MuxProtocolException)
            Fail($"the session ended with {error.GetType().Name}: {error.Message}", error);
    }

    private static async Task DrainAsync(YamuxStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        try
        {
            while (await stream.ReadAsync(buffer, cancellationToken) > 0)
            {
            }
        }
        catch (IOException)
        {
            // The session ended or the peer reset the stream: what a reader sees.
        }
        await stream.DisposeAsync();
    }

    private static byte[] Frame(YamuxFrameType type, YamuxFlags flags, uint stream, uint length, byte[]? body = null) =>
        [.. new YamuxFrameHeader(type, flags, stream, length).ToArray(), .. body ?? []];

    public override IEnumerable<(string, byte[])> Seeds()
    {
        byte[] hello = "hello"u8.ToArray();
        yield return ("server-open-data-fin", [0, .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0), .. Frame(YamuxFrameType.Data, YamuxFlags.None, 1, 5, hello), .. Frame(YamuxFrameType.Data, YamuxFlags.Fin, 1, 0)]);
        yield return ("server-data-syn", [4, .. Frame(YamuxFrameType.Data, YamuxFlags.Syn, 3, 5, hello), .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 3, 0)]);
        yield return ("server-ping", [0, .. Frame(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 7), .. Frame(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0)]);
        yield return ("client-open-even", [1, .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 1000), .. Frame(YamuxFrameType.Data, YamuxFlags.Fin, 2, 5, hello)]);
        yield return ("wrong-parity", [0, .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0)]);
        yield return ("over-window", [0, .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0), .. Frame(YamuxFrameType.Data, YamuxFlags.None, 1, 300 * 1024)]);
        yield return ("goaway-error", [0, .. Frame(YamuxFrameType.GoAway, YamuxFlags.None, 0, 1)]);
        yield return ("unsolicited-ack", [1, .. Frame(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 99)]);
        yield return ("bad-version", [0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    }
}

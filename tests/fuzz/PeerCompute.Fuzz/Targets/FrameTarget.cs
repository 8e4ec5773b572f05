using System.Buffers;
using System.Text;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The application frame codec: the span and sequence decoders must agree (whatever the segment split), a decoded
/// frame re-encodes to exactly its bytes, and <see cref="FrameReader"/> reading the same bytes in small chunks
/// yields the same frames and fails only with <see cref="FrameException"/>.
/// Input: byte 0 = read chunk size and split point, byte 1 = payload limit, then the stream.
/// </summary>
public sealed class FrameTarget : FuzzTarget
{
    public override string Name => "frame";
    public override string Description => "FrameCodec.TryRead (span + sequence) and FrameReader";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
            return;
        int chunk = 1 + input[0] % 64;
        int maxPayload = input[1] < 128 ? FrameCodec.DefaultMaxPayloadLength : input[1] * 16;
        var data = input[2..].ToArray();

        // Decode frame after frame with the span decoder; compare each step with the sequence decoder.
        var expected = new List<(FrameType Type, byte[] Raw)>();
        FrameException? expectedError = null;
        int offset = 0;
        while (true)
        {
            var rest = data.AsSpan(offset);
            var status = FrameCodec.TryRead(rest, maxPayload, out var type, out var payload, out int consumed, out var error);
            var seqStatus = FrameCodec.TryRead(Split(data.AsMemory(offset), chunk), maxPayload, out var seqType, out var seqPayload, out _, out var seqError);
            Check(status == seqStatus, $"span decoder said {status}, sequence decoder {seqStatus}");
            if (status == OperationStatus.InvalidData)
            {
                Check(error is not null && seqError is not null && error.Code == seqError.Code, "Invalid without a FrameException, or different codes");
                expectedError = error;
                break;
            }
            if (status == OperationStatus.NeedMoreData)
                break;
            Check(seqType == type && seqPayload.ToArray().AsSpan().SequenceEqual(payload), "the decoders disagree on a frame");
            Check(consumed == FrameCodec.HeaderLength + payload.Length && payload.Length <= maxPayload, "consumed does not match the payload");
            var writer = new ArrayBufferWriter<byte>();
            FrameCodec.WriteRaw(writer, type, payload);
            Check(writer.WrittenSpan.SequenceEqual(rest[..consumed]), "re-encoding a frame changed its bytes");
            expected.Add((type, rest[..consumed].ToArray()));
            offset += consumed;
        }
        bool trailing = expectedError is null && offset < data.Length;

        // The stream reader must see the same frames, then fail (or end) the same way.
        var got = Await(async ct =>
        {
            var reader = new FrameReader(new ChunkedStream(data, chunk), maxPayload);
            var frames = new List<(FrameType, byte[])>();
            try
            {
                while (await reader.ReadAsync(ct) is { } frame)
                {
                    using (frame)
                        frames.Add((frame.Type, frame.Raw.ToArray()));
                }
                return (frames, (FrameException?)null);
            }
            catch (FrameException e)
            {
                return (frames, e);
            }
        });
        Check(got.frames.Count == expected.Count, $"FrameReader read {got.frames.Count} frames, the codec {expected.Count}");
        for (int i = 0; i < expected.Count; i++)
            Check(got.frames[i].Item1 == expected[i].Type && got.frames[i].Item2.AsSpan().SequenceEqual(expected[i].Raw), $"frame {i} differs");
        if (expectedError is not null)
            Check(got.Item2?.Code == expectedError.Code, "FrameReader did not fail like the codec");
        else if (trailing)
            Check(got.Item2?.Code == ErrorCodes.MalformedFrame, "a stream ending inside a frame was not reported");
        else
            Check(got.Item2 is null, "a clean end of stream was reported as an error");
    }

    private static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> memory, int chunk)
    {
        if (memory.Length <= chunk)
            return new ReadOnlySequence<byte>(memory);
        Segment first = new(memory[..chunk], 0);
        Segment last = first;
        for (int i = chunk; i < memory.Length; i += chunk)
            last = last.Append(memory[i..Math.Min(memory.Length, i + chunk)]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var deploy = FrameCodec.Encode(FrameType.DeployRequest, new DeployRequest("busybox:latest", 1_700_000_000_000, "AAAAAAAAAAAAAAAAAAAAAA=="), ProtocolJsonContext.Default.DeployRequest);
        var error = FrameCodec.Encode(FrameType.Error, new ErrorResponse("not_found", "no such deployment"), ProtocolJsonContext.Default.ErrorResponse);
        yield return ("one-frame", [0, 0, .. deploy]);
        yield return ("two-frames-chunked", [7, 0, .. deploy, .. error]);
        yield return ("truncated", [3, 0, .. deploy[..^4]]);
        yield return ("unknown-type", [1, 0, 42, 0, 0, 0, 2, (byte)'{', (byte)'}']);
        yield return ("too-large", [5, 130, 1, 0, 0, 16, 0, .. Encoding.ASCII.GetBytes("{}")]);
        yield return ("empty-payload", [0, 0, 9, 0, 0, 0, 0]);
    }
}

/// <summary>A read-only stream that hands out at most <c>chunk</c> bytes per read, so readers see split input.</summary>
internal sealed class ChunkedStream(byte[] data, int chunk) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(chunk, buffer.Length), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));
}

/// <summary>A duplex stream for a layer under test: reads come from the fuzz input (in chunks), writes are dropped.</summary>
internal sealed class InputOutputStream(byte[] input, int chunk) : Stream
{
    private readonly ChunkedStream _input = new(input, chunk);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer) => _input.Read(buffer);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) { }
    public override void Write(ReadOnlySpan<byte> buffer) { }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.CompletedTask;
}

using System.Buffers;
using System.IO.Pipelines;

namespace PeerCompute.Core.Protocol;

/// <summary>One received frame. The payload lives in a pooled buffer: dispose the frame when done.</summary>
public struct ReceivedFrame : IDisposable
{
    private byte[]? _buffer;

    internal ReceivedFrame(FrameType type, byte[] buffer, int headerAndPayloadLength)
    {
        Type = type;
        _buffer = buffer;
        Length = headerAndPayloadLength;
    }

    public FrameType Type { get; }

    private int Length { get; }

    /// <summary>The frame exactly as received (header and payload): what a request signature covers.</summary>
    public readonly ReadOnlySpan<byte> Raw => _buffer.AsSpan(0, Length);

    public readonly ReadOnlySpan<byte> Payload => _buffer.AsSpan(FrameCodec.HeaderLength, Length - FrameCodec.HeaderLength);

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Reads frames from a stream; a thin loop around <see cref="FrameCodec.TryRead(ReadOnlySequence{byte}, int, out FrameType, out ReadOnlySequence{byte}, out SequencePosition, out FrameException?)"/>.</summary>
public sealed class FrameReader
{
    private readonly PipeReader _reader;
    private readonly int _maxPayloadLength;

    public FrameReader(Stream stream, int maxPayloadLength = FrameCodec.DefaultMaxPayloadLength)
    {
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        _maxPayloadLength = maxPayloadLength;
    }

    /// <summary>The next frame, or null at a clean end of stream. Throws <see cref="FrameException"/> for bad input.</summary>
    public async ValueTask<ReceivedFrame?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = FrameCodec.TryRead(buffer, _maxPayloadLength, out var type, out var payload, out var consumed, out var error);
            switch (status)
            {
                case OperationStatus.Done:
                    int total = FrameCodec.HeaderLength + (int)payload.Length;
                    var rented = ArrayPool<byte>.Shared.Rent(total);
                    buffer.Slice(0, total).CopyTo(rented);
                    _reader.AdvanceTo(consumed);
                    return new ReceivedFrame(type, rented, total);
                case OperationStatus.InvalidData:
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                    throw error!;
                default:
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        bool clean = buffer.IsEmpty;
                        _reader.AdvanceTo(buffer.End);
                        if (clean)
                            return null;
                        throw new FrameException(ErrorCodes.MalformedFrame, $"The stream ended inside a frame ({buffer.Length} bytes of it received).");
                    }
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                    break;
            }
        }
    }
}

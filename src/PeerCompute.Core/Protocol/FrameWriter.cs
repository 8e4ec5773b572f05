using System.Buffers;
using System.Text.Json.Serialization.Metadata;
using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Protocol;

/// <summary>
/// Writes frames to a stream, each in one write, from a reused buffer. A frame whose payload is over
/// <paramref name="maxPayloadLength"/> (the limit the peer reads with) is never sent: the write throws a
/// <see cref="FrameException"/> (<see cref="ErrorCodes.FrameTooLarge"/>) and the stream stays usable for an error frame.
/// </summary>
public sealed class FrameWriter(Stream stream, int maxPayloadLength = FrameCodec.DefaultMaxPayloadLength)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly SemaphoreSlim _lock = new(1, 1);

    public async ValueTask WriteAsync<T>(FrameType type, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _buffer.ResetWrittenCount();
            CheckLength(type, FrameCodec.Write(_buffer, type, value, typeInfo));
            await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Writes a request frame followed by the signature over exactly its bytes.</summary>
    public async ValueTask WriteSignedAsync<T>(PeerIdentity signer, FrameType type, T request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : ISignedRequest
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _buffer.ResetWrittenCount();
            CheckLength(type, FrameCodec.Write(_buffer, type, request, typeInfo));
            var signature = RequestSigning.Sign(signer, _buffer.WrittenSpan);
            FrameCodec.Write(_buffer, FrameType.RequestSignature, signature, ProtocolJsonContext.Default.RequestSignature);
            await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    private void CheckLength(FrameType type, int length)
    {
        if (length <= maxPayloadLength)
            return;
        _buffer.ResetWrittenCount();
        throw new FrameException(ErrorCodes.FrameTooLarge, $"The {type} would be {length} bytes, over the frame limit of {maxPayloadLength} bytes; it was not sent.");
    }

    public ValueTask WriteErrorAsync(string code, string message, CancellationToken cancellationToken) =>
        WriteAsync(FrameType.Error, new ErrorResponse(code, message), ProtocolJsonContext.Default.ErrorResponse, cancellationToken);
}

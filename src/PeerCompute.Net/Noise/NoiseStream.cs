using PeerCompute.Core.IO;
using System.Buffers;
using System.Buffers.Binary;

namespace PeerCompute.Net.Noise;

/// <summary>
/// The Noise transport after the handshake: a byte stream cut into messages of <c>u16 length ‖ ciphertext ‖ tag</c>
/// (at most 65519 plaintext bytes each). Writes are gathered into messages and encrypted in place, and sent on
/// <see cref="FlushAsync(CancellationToken)"/> or when the buffer fills; reads reassemble the byte stream whatever
/// the message boundaries. One reader and one writer may run at the same time.
/// </summary>
internal sealed class NoiseStream : DuplexStream
{
    public const int MaxMessageLength = 65535;
    public const int MaxPlaintextLength = MaxMessageLength - NoiseCipherState.TagSize;
    private const int FrameOverhead = 2 + NoiseCipherState.TagSize;
    private const int MessagesPerWrite = 4;
    private const int ReadBufferSize = 4 * (MaxMessageLength + 2);

    private readonly Stream _inner;
    private readonly NoiseCipherState _send;
    private readonly NoiseCipherState _receive;
    private readonly bool _leaveOpen;

    // Both buffers are pooled and held only while they hold bytes, so an idle connection costs none.
    private byte[]? _out;
    private int _outSealed;        // bytes of complete messages in _out
    private int _chunkPlaintext;   // plaintext bytes of the open message (after its 2-byte length slot)

    private byte[]? _in;
    private int _inStart, _inEnd;  // received ciphertext not yet decrypted
    private int _plainStart, _plainEnd; // decrypted plaintext not yet read, inside _in
    private bool _disposed;

    internal NoiseStream(Stream inner, NoiseCipherState send, NoiseCipherState receive, bool leaveOpen = false)
    {
        _inner = inner;
        _send = send;
        _receive = receive;
        _leaveOpen = leaveOpen;
    }


    /// <summary>
    /// Reads plaintext. A zero-byte read waits until data is available without holding a buffer (as sockets and
    /// SslStream do), so a reader can wait with nothing rented.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (_plainEnd > _plainStart)
            {
                int n = Math.Min(buffer.Length, _plainEnd - _plainStart);
                _in.AsSpan(_plainStart, n).CopyTo(buffer.Span);
                _plainStart += n;
                ReleaseInputIfEmpty();
                return n;
            }
            if (HasCompleteMessage())
            {
                if (buffer.IsEmpty)
                    return 0;
                int written = DecryptAvailable(buffer.Span);
                if (written > 0)
                {
                    ReleaseInputIfEmpty();
                    return written;
                }
                continue;
            }
            if (_in is null || _inEnd == _inStart)
            {
                // Nothing buffered: wait for the peer without a buffer, then rent one.
                ReleaseInputIfEmpty();
                int ready = await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                _ = ready;
                _in ??= ArrayPool<byte>.Shared.Rent(ReadBufferSize);
                _inStart = _inEnd = _plainStart = _plainEnd = 0;
            }
            else if (_inStart > 0 && _in.Length - _inEnd < MaxMessageLength + 2)
            {
                // Keep the partial message and make room for a whole one after it.
                _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
                _inEnd -= _inStart;
                _inStart = 0;
                _plainStart = _plainEnd = 0;
            }
            int read = await _inner.ReadAsync(_in.AsMemory(_inEnd), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_inEnd > _inStart)
                    throw new Libp2pProtocolException("noise: the connection ended inside a message");
                ReleaseInputIfEmpty();
                return 0;
            }
            _inEnd += read;
            if (buffer.IsEmpty && HasCompleteMessage())
                return 0;
        }
    }

    private bool HasCompleteMessage() =>
        _in is not null && NoiseFrame.TryRead(_in.AsSpan(_inStart, _inEnd - _inStart), 0, out _, out _) == OperationStatus.Done;

    private void ReleaseInputIfEmpty()
    {
        if (_in is not null && _inEnd == _inStart && _plainEnd == _plainStart)
        {
            ArrayPool<byte>.Shared.Return(_in);
            _in = null;
            _inStart = _inEnd = _plainStart = _plainEnd = 0;
        }
    }

    /// <summary>
    /// Decrypts complete messages: straight into <paramref name="destination"/> while they fit, otherwise one message
    /// in place (to be served from the buffer). Returns the bytes written to <paramref name="destination"/>.
    /// </summary>
    private int DecryptAvailable(Span<byte> destination)
    {
        var input = _in!;
        int written = 0;
        while (true)
        {
            var status = NoiseFrame.TryRead(input.AsSpan(_inStart, _inEnd - _inStart), NoiseCipherState.TagSize, out int length, out _);
            if (status == OperationStatus.InvalidData)
                throw new Libp2pProtocolException($"noise: transport message of {BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(_inStart))} bytes is shorter than its tag");
            if (status == OperationStatus.NeedMoreData)
                break;
            var message = input.AsSpan(_inStart + NoiseFrame.HeaderLength, length);
            int plain = length - NoiseCipherState.TagSize;
            if (plain <= destination.Length - written)
            {
                if (!_receive.TryDecrypt([], message, destination[written..]))
                    throw new Libp2pProtocolException("noise: transport message failed to decrypt");
                written += plain;
                _inStart += NoiseFrame.HeaderLength + length;
                continue;
            }
            if (written > 0)
                break;
            if (!_receive.TryDecrypt([], message, message))
                throw new Libp2pProtocolException("noise: transport message failed to decrypt");
            _plainStart = _inStart + NoiseFrame.HeaderLength;
            _plainEnd = _plainStart + plain;
            _inStart += NoiseFrame.HeaderLength + length;
            break;
        }
        return written;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!buffer.IsEmpty)
            _out ??= ArrayPool<byte>.Shared.Rent(MessagesPerWrite * (MaxMessageLength + 2));
        while (!buffer.IsEmpty)
        {
            var output = _out!;
            if (_outSealed + FrameOverhead + MaxPlaintextLength > output.Length && _chunkPlaintext == 0)
                await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            if (_chunkPlaintext == 0 && buffer.Length >= MaxPlaintextLength)
            {
                // A whole message from the caller's buffer: encrypt straight into the output, no copy.
                _send.Encrypt([], buffer.Span[..MaxPlaintextLength], output.AsSpan(_outSealed + 2));
                BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(_outSealed), MaxMessageLength);
                _outSealed += 2 + MaxMessageLength;
                buffer = buffer[MaxPlaintextLength..];
                continue;
            }
            int n = Math.Min(buffer.Length, MaxPlaintextLength - _chunkPlaintext);
            buffer.Span[..n].CopyTo(output.AsSpan(_outSealed + 2 + _chunkPlaintext));
            _chunkPlaintext += n;
            buffer = buffer[n..];
            if (_chunkPlaintext == MaxPlaintextLength)
                SealChunk();
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_chunkPlaintext > 0)
            SealChunk();
        if (_outSealed > 0)
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
        if (_out is not null)
        {
            ArrayPool<byte>.Shared.Return(_out);
            _out = null;
        }
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void SealChunk()
    {
        var output = _out!;
        var plaintext = output.AsSpan(_outSealed + 2, _chunkPlaintext);
        _send.Encrypt([], plaintext, output.AsSpan(_outSealed + 2, _chunkPlaintext + NoiseCipherState.TagSize));
        BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(_outSealed), (ushort)(_chunkPlaintext + NoiseCipherState.TagSize));
        _outSealed += FrameOverhead + _chunkPlaintext;
        _chunkPlaintext = 0;
    }

    private async ValueTask WriteOutAsync(CancellationToken cancellationToken)
    {
        await _inner.WriteAsync(_out!.AsMemory(0, _outSealed), cancellationToken).ConfigureAwait(false);
        _outSealed = 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            if (!_leaveOpen)
                _inner.Dispose();
            _send.Dispose();
            _receive.Dispose();
            // The pooled buffers are not returned here: a read or write may still be using them on another thread.
        }
        base.Dispose(disposing);
    }
}

using System.Buffers;
using PeerCompute.Net;
using PeerCompute.Net.Multistream;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// multistream-select: the pure parser over the whole input (each message re-encodes to its bytes), and both
/// roles negotiating against the input as the peer's bytes. Only <see cref="Libp2pProtocolException"/> may come out,
/// and a negotiation never reads a byte past the message that ended it.
/// Input: byte 0 = role/chunk, then the peer's bytes.
/// </summary>
public sealed class MultistreamTarget : FuzzTarget
{
    private static readonly string[] Supported = ["/yamux/1.0.0", "/noise", "/ipfs/id/1.0.0"];

    public override string Name => "multistream";
    public override string Description => "MultistreamMessage.TryParse, MultistreamSelect (both roles)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        byte control = input[0];
        var data = input[1..].ToArray();

        int offset = 0;
        try
        {
            while (offset < data.Length)
            {
                var status = MultistreamMessage.TryParse(data.AsSpan(offset), out string text, out int consumed);
                if (status == OperationStatus.NeedMoreData)
                    break;
                Check(status == OperationStatus.Done && consumed > 0, $"TryParse returned {status}");
                Check(text.Length < MultistreamMessage.MaxLength, "a message over the limit was accepted");
                Check(MultistreamMessage.Encode(text).AsSpan().SequenceEqual(data.AsSpan(offset, consumed)), "re-encoding a message changed its bytes");
                offset += consumed;
            }
        }
        catch (Libp2pProtocolException)
        {
        }

        var stream = new CountingStream(data, 1 + control % 16);
        try
        {
            string? chosen = (control & 0x80) == 0
                ? Await(ct => MultistreamSelect.RespondAsync(stream, Supported, ct))
                : Await<string?>(async ct => await MultistreamSelect.SelectAsync(stream, Supported, ct));
            if (chosen is not null)
                Check(Supported.Contains(chosen), $"negotiated '{chosen}', which was not offered");
        }
        catch (AggregateException e) when (e.InnerException is Libp2pProtocolException)
        {
        }
        catch (Libp2pProtocolException)
        {
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("respond-yamux", [0, .. MultistreamMessage.Encode(MultistreamMessage.Header, "/yamux/1.0.0")]);
        yield return ("respond-ls-then-na", [3, .. MultistreamMessage.Encode(MultistreamMessage.Header, "ls", "/other/1", "/noise")]);
        yield return ("select-yamux", [0x80, .. MultistreamMessage.Encode(MultistreamMessage.Header, "/yamux/1.0.0")]);
        yield return ("select-na-then-noise", [0x81, .. MultistreamMessage.Encode(MultistreamMessage.Header, "na", "/noise")]);
        yield return ("list", [0, .. MultistreamMessage.EncodeList(Supported)]);
        yield return ("two-byte-length", [5, 0x80, 0x01, .. new byte[127], (byte)'\n']);
        yield return ("no-newline", [0, 3, (byte)'a', (byte)'b', (byte)'c']);
    }

    /// <summary>The peer's bytes, chunked; checks nobody reads after a negotiation returned (done by the caller's Check).</summary>
    private sealed class CountingStream(byte[] input, int chunk) : Stream
    {
        private readonly InputOutputStream _inner = new(input, chunk);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) { }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}

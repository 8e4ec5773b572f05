using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Mux;

namespace PeerCompute.Benchmarks.Net;

/// <summary>The pure codecs on the hot path: they must not allocate.</summary>
[MemoryDiagnoser]
public class NetCodecBenchmarks
{
    private readonly byte[] _header = new YamuxFrameHeader(YamuxFrameType.Data, YamuxFlags.None, 7, 262144).ToArray();
    private readonly byte[] _scratch = new byte[64];
    private readonly byte[] _message = MultistreamMessage.Encode("/peercompute/1.0.0");

    [Benchmark]
    public uint YamuxHeaderParse() => YamuxFrameHeader.TryRead(_header, out var h, out _) == OperationStatus.Done ? h.Length : 0;

    [Benchmark]
    public int YamuxHeaderWrite()
    {
        new YamuxFrameHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 9, 1024).Write(_scratch);
        return _scratch[1];
    }

    [Benchmark]
    public int MultistreamParse() => MultistreamMessage.TryParse(_message, out _, out int consumed) == System.Buffers.OperationStatus.Done ? consumed : 0;
}

/// <summary>Noise transport encryption of one full message (65519 bytes), the per-byte cost of a secured connection.</summary>
public class NoiseTransportBenchmarks : IDisposable
{
    private readonly NoiseCipherState _cipher = new(new byte[32]);
    private readonly byte[] _plaintext = new byte[NoiseStream.MaxPlaintextLength];
    private readonly byte[] _ciphertext = new byte[NoiseStream.MaxMessageLength];

    [Benchmark(OperationsPerInvoke = 1)]
    public void EncryptMessage() => _cipher.Encrypt([], _plaintext, _ciphertext);

    public void Dispose()
    {
        _cipher.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>One yamux stream carrying 64 MiB between two sessions over an in-memory pipe (no TCP, no Noise): the muxer alone.</summary>
[MemoryDiagnoser]
public class YamuxPipeThroughputBenchmarks
{
    private const int Total = 64 * 1024 * 1024;
    private readonly byte[] _chunk = new byte[256 * 1024];
    private readonly byte[] _sink = new byte[256 * 1024];
    private YamuxSession _client = null!;
    private YamuxSession _server = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20);
        var ab = new Pipe(options);
        var ba = new Pipe(options);
        _client = YamuxSession.Start(new DuplexStream(ba.Reader.AsStream(), ab.Writer.AsStream()), isClient: true);
        _server = YamuxSession.Start(new DuplexStream(ab.Reader.AsStream(), ba.Writer.AsStream()), isClient: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark]
    public async Task<long> Transfer64MiB()
    {
        var sending = await _client.OpenStreamAsync();
        var receiving = Task.Run(async () =>
        {
            var stream = (await _server.AcceptStreamAsync())!;
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(_sink)) > 0)
                total += n;
            await stream.DisposeAsync();
            return total;
        });
        for (int sent = 0; sent < Total; sent += _chunk.Length)
            await sending.WriteAsync(_chunk);
        await sending.CompleteWritesAsync();
        long got = await receiving;
        await sending.DisposeAsync();
        return got;
    }

    private sealed class DuplexStream(Stream read, Stream write) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => write.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => write.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => read.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => read.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => write.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => write.WriteAsync(buffer, cancellationToken);
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using PeerCompute.Net.Host;
using PeerCompute.Mux;

namespace PeerCompute.NetBench;

/// <summary>
/// The bench protocol of tests/interop/js/peer.mjs, byte for byte: a 9-byte header (op, u64 BE size);
/// op 1 (push) the opener sends N bytes and the responder answers their SHA-256; op 2 (pull) the responder
/// sends N bytes and then their SHA-256. Payload chunks are 256 KiB with the chunk index in the first 8 bytes.
/// </summary>
internal static class BenchProtocol
{
    public const string Id = "/peercompute/bench/1.0.0";
    public const string EchoId = "/peercompute/echo/1.0.0";
    private const int Chunk = 256 * 1024;
    private static readonly byte[] Block = RandomNumberGenerator.GetBytes(Chunk);

    public static void Register(Libp2pHost host)
    {
        host.SetStreamHandler(Id, async (stream, ct) =>
        {
            var header = new byte[9];
            await stream.Stream.ReadExactlyAsync(header, ct);
            long size = (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(1));
            byte[] digest = header[0] switch
            {
                1 => await ReceiveAsync(stream.Stream, size, ct),
                2 => await SendPayloadAsync(stream.Stream, size, ct),
                _ => throw new InvalidOperationException("unknown bench op"),
            };
            await stream.Stream.WriteAsync(digest, ct);
            await stream.Stream.CompleteWritesAsync(ct);
        });
        host.SetStreamHandler(EchoId, async (stream, ct) =>
        {
            await stream.Stream.CopyToAsync(stream.Stream, Chunk, ct);
            await stream.Stream.CompleteWritesAsync(ct);
        });
    }

    /// <summary>Pushes <paramref name="size"/> bytes; returns MB/s once the peer's digest matched.</summary>
    public static async Task<double> PushAsync(Libp2pConnection connection, long size, CancellationToken ct = default)
    {
        await using var stream = await connection.OpenStreamAsync(Id, ct);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        await stream.Stream.WriteAsync(Header(1, size), ct);
        var local = await SendPayloadAsync(stream.Stream, size, ct);
        await stream.Stream.CompleteWritesAsync(ct);
        var remote = new byte[32];
        await stream.Stream.ReadExactlyAsync(remote, ct);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(start);
        if (!local.AsSpan().SequenceEqual(remote))
            throw new InvalidOperationException("push: digest mismatch");
        return size / 1e6 / elapsed.TotalSeconds;
    }

    /// <summary>Pulls <paramref name="size"/> bytes; returns MB/s once the digest matched.</summary>
    public static async Task<double> PullAsync(Libp2pConnection connection, long size, CancellationToken ct = default)
    {
        await using var stream = await connection.OpenStreamAsync(Id, ct);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        await stream.Stream.WriteAsync(Header(2, size), ct);
        await stream.Stream.CompleteWritesAsync(ct);
        var local = await ReceiveAsync(stream.Stream, size, ct);
        var remote = new byte[32];
        await stream.Stream.ReadExactlyAsync(remote, ct);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(start);
        if (!local.AsSpan().SequenceEqual(remote))
            throw new InvalidOperationException("pull: digest mismatch");
        return size / 1e6 / elapsed.TotalSeconds;
    }

    /// <summary>Stream open+close rate like peer.mjs's <c>streams</c>: echo 1 byte per stream, <paramref name="concurrency"/> at once.</summary>
    public static async Task<double> StreamsAsync(Libp2pConnection connection, int count, int concurrency, CancellationToken ct = default)
    {
        int next = -1;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var one = new byte[1];
            var back = new byte[2];
            while (Interlocked.Increment(ref next) < count)
            {
                await using var stream = await connection.OpenStreamAsync(EchoId, ct);
                await stream.Stream.WriteAsync(one, ct);
                await stream.Stream.CompleteWritesAsync(ct);
                int got = 0, n;
                while ((n = await stream.Stream.ReadAsync(back, ct)) > 0)
                    got += n;
                if (got != 1)
                    throw new InvalidOperationException("echo returned the wrong byte count");
            }
        }, ct)));
        return count / System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static byte[] Header(byte op, long size)
    {
        var header = new byte[9];
        header[0] = op;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(1), (ulong)size);
        return header;
    }

    private static async Task<byte[]> SendPayloadAsync(YamuxStream stream, long size, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // Two buffers so the one being written is not changed under the writer (writes complete before reuse anyway).
        var chunk = new byte[Chunk];
        long sent = 0;
        for (ulong index = 0; sent < size; index++)
        {
            int length = (int)Math.Min(Chunk, size - sent);
            Block.AsSpan(0, length).CopyTo(chunk);
            if (length >= 8)
                BinaryPrimitives.WriteUInt64BigEndian(chunk, index);
            hash.AppendData(chunk, 0, length);
            await stream.WriteAsync(chunk.AsMemory(0, length), ct);
            sent += length;
        }
        return hash.GetHashAndReset();
    }

    private static async Task<byte[]> ReceiveAsync(YamuxStream stream, long size, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[Chunk];
        long got = 0;
        while (got < size)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - got)), ct);
            if (n == 0)
                throw new EndOfStreamException($"stream ended after {got} of {size} bytes");
            hash.AppendData(buffer, 0, n);
            got += n;
        }
        return hash.GetHashAndReset();
    }
}

using PeerCompute.Core.IO;
using PeerCompute.Mux;

namespace PeerCompute.Net.Relay;

/// <summary>
/// One end of a circuit seen as a raw transport stream: the hop stream (caller) or the stop stream (target), which the
/// host upgrades with Noise and yamux like a TCP socket. It counts what it carried, so that when the relay cuts the
/// circuit (it sends no reason) the end can tell which of the announced limits was reached; and it says when it is done,
/// so the stop handler that received it keeps its stream open exactly as long as the connection on top lives.
/// </summary>
public sealed class RelayedStream : DuplexStream
{
    private readonly YamuxStream _inner;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _opened = Environment.TickCount64;
    private long _read;
    private long _written;

    internal RelayedStream(YamuxStream inner, RelayLimit? limit)
    {
        _inner = inner;
        Limit = limit;
    }

    /// <summary>The limit the relay announced for this circuit; null when it announced none.</summary>
    public RelayLimit? Limit { get; }

    public long BytesRead => Interlocked.Read(ref _read);

    public long BytesWritten => Interlocked.Read(ref _written);

    public TimeSpan Age => TimeSpan.FromMilliseconds(Environment.TickCount64 - _opened);

    /// <summary>Completes once this stream is disposed.</summary>
    internal Task Done => _done.Task;

    /// <summary>
    /// Which announced limit the circuit had reached (or nearly: within 1% or 64 KiB of bytes, 2 s of time) when it
    /// broke, in words; null when it broke short of every limit.
    /// </summary>
    public string? LimitReached()
    {
        if (Limit is null)
            return null;
        if (Limit.DataBytes is { } data)
        {
            long slack = Math.Max(64 * 1024, (long)(data / 100));
            long most = Math.Max(BytesRead, BytesWritten);
            if (most + slack >= (long)data)
                return $"the relay's data limit of {Bytes((long)data)} per direction";
        }
        if (Limit.DurationSeconds is { } seconds && Age >= TimeSpan.FromSeconds(seconds) - TimeSpan.FromSeconds(2))
            return $"the relay's time limit of {Duration(seconds)}";
        return null;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _read, n);
        return n;
    }

    /// <summary>
    /// Writes in pieces of <see cref="CountedPiece"/> and counts each once it has left: Noise hands over ~256 KiB at a
    /// time, and a relay that cuts the circuit at its data limit does so while such a write waits for window, so
    /// counting whole writes would lose exactly the bytes that show which limit was reached.
    /// </summary>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var piece = buffer[..Math.Min(buffer.Length, CountedPiece)];
            await _inner.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _written, piece.Length);
            buffer = buffer[piece.Length..];
        }
    }

    /// <summary>The most a cut write can leave uncounted; well inside <see cref="LimitReached"/>'s 64 KiB slack.</summary>
    private const int CountedPiece = 16 * 1024;

    /// <summary>Half-closes the circuit's stream (FIN: what the layer above wrote still arrives) and stops reading.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (_done.Task.IsCompleted)
            return;
        try
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _done.TrySetResult();
            GC.SuppressFinalize(this);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} bytes",
    };

    internal static string Duration(uint seconds) => seconds switch
    {
        >= 3600 when seconds % 3600 == 0 => $"{seconds / 3600} h",
        >= 60 when seconds % 60 == 0 => $"{seconds / 60} min",
        _ => $"{seconds} s",
    };
}

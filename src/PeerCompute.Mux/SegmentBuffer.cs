using System.Buffers;

namespace PeerCompute.Mux;

/// <summary>A FIFO of bytes kept in pooled segments: what a stream has received and the application not yet read.</summary>
internal sealed class SegmentBuffer
{
    private const int SegmentSize = 64 * 1024;
    private readonly Queue<Segment> _segments = new();
    private Segment? _tail;

    public long Length { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_tail is null || _tail.End == _tail.Array.Length)
            {
                _tail = new Segment(ArrayPool<byte>.Shared.Rent(SegmentSize));
                _segments.Enqueue(_tail);
            }
            int n = Math.Min(data.Length, _tail.Array.Length - _tail.End);
            data[..n].CopyTo(_tail.Array.AsSpan(_tail.End));
            _tail.End += n;
            Length += n;
            data = data[n..];
        }
    }

    public int Read(Span<byte> destination)
    {
        int total = 0;
        while (!destination.IsEmpty && _segments.TryPeek(out var head))
        {
            int n = Math.Min(destination.Length, head.End - head.Start);
            head.Array.AsSpan(head.Start, n).CopyTo(destination);
            head.Start += n;
            total += n;
            destination = destination[n..];
            if (head.Start == head.End)
            {
                // Keep the last segment for further appends unless it is full.
                if (head == _tail && head.End < head.Array.Length)
                {
                    head.Start = head.End = 0;
                    break;
                }
                _segments.Dequeue();
                if (head == _tail)
                    _tail = null;
                ArrayPool<byte>.Shared.Return(head.Array);
            }
        }
        Length -= total;
        return total;
    }

    public void Clear()
    {
        while (_segments.TryDequeue(out var segment))
            ArrayPool<byte>.Shared.Return(segment.Array);
        _tail = null;
        Length = 0;
    }

    private sealed class Segment(byte[] array)
    {
        public readonly byte[] Array = array;
        public int Start;
        public int End;
    }
}

using System.Buffers;

namespace PeerCompute.Core.Tests;

/// <summary>Builds multi-segment sequences, as a pipe hands them out after several small reads.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, IEnumerable<int> cutSizes)
    {
        var parts = new List<ReadOnlyMemory<byte>>();
        int at = 0;
        foreach (int size in cutSizes)
        {
            if (at >= bytes.Length)
                break;
            int n = Math.Min(size, bytes.Length - at);
            parts.Add(bytes.AsMemory(at, n));
            at += n;
        }
        parts.Add(bytes.AsMemory(at));
        var first = new Segments(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            var next = new Segments(part, last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}

using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>A deploy's pull progress, recorded synchronously in the order reported; empty when nothing was pulled.</summary>
internal sealed class PullRecorder : IProgress<PullProgress>
{
    public List<PullProgress> Items { get; } = [];

    public void Report(PullProgress value)
    {
        lock (Items)
            Items.Add(value);
    }
}

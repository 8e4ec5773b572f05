namespace PeerCompute.Provider.Service;

/// <summary>A request the provider refused or could not carry out, for the operator's status page.</summary>
public sealed record Refusal(DateTimeOffset At, string Peer, string Code, string Message);

/// <summary>The last <see cref="Capacity"/> refusals, newest first when read; safe to add to from any thread.</summary>
public sealed class RecentRefusals(int capacity = RecentRefusals.DefaultCapacity, TimeProvider? time = null)
{
    public const int DefaultCapacity = 50;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Queue<Refusal> _items = new();
    private readonly Lock _lock = new();
    private long _total;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Refusals since the start, the forgotten ones included.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Add(string peer, string code, string message)
    {
        var refusal = new Refusal(_time.GetUtcNow(), peer, code, message.Length <= 300 ? message : message[..300] + "…");
        lock (_lock)
        {
            if (_items.Count == Capacity)
                _items.Dequeue();
            _items.Enqueue(refusal);
            _total++;
        }
    }

    public IReadOnlyList<Refusal> Snapshot()
    {
        lock (_lock)
            return [.. _items.Reverse()];
    }
}

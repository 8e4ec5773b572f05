using System.Collections.Concurrent;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// Requests and errors (5xx answers) per deployment hostname label over the last hour, in one-minute buckets, for the
/// status page. Only labels that resolved to a deployment are recorded, so made-up hostnames cannot grow the table;
/// a label with no request for an hour is dropped when the table is read.
/// </summary>
public sealed class DeploymentTraffic(TimeProvider? time = null)
{
    public const int Minutes = 60;

    /// <summary>Labels tracked at most; beyond it new labels are counted in <see cref="Untracked"/> only.</summary>
    public const int MaxLabels = 20_000;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
    private long _untracked;

    /// <summary>Requests to labels beyond <see cref="MaxLabels"/>.</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    public void Record(string label, int status)
    {
        long minute = CurrentMinute();
        if (!_series.TryGetValue(label, out var series))
        {
            if (_series.Count >= MaxLabels)
            {
                Interlocked.Increment(ref _untracked);
                return;
            }
            series = _series.GetOrAdd(label, static _ => new Series());
        }
        series.Add(minute, status >= 500);
    }

    /// <summary>Every label with traffic in the last hour, oldest minute first in each array.</summary>
    public IReadOnlyList<LabelTraffic> Snapshot()
    {
        long minute = CurrentMinute();
        var result = new List<LabelTraffic>();
        foreach (var (label, series) in _series)
        {
            var (requests, errors) = series.Read(minute);
            if (requests.Sum() == 0)
            {
                _series.TryRemove(new KeyValuePair<string, Series>(label, series));
                continue;
            }
            result.Add(new LabelTraffic(label, requests, errors));
        }
        result.Sort((a, b) => string.CompareOrdinal(a.Label, b.Label));
        return result;
    }

    private long CurrentMinute() => _time.GetUtcNow().ToUnixTimeSeconds() / 60;

    private sealed class Series
    {
        private readonly Lock _lock = new();
        private readonly long[] _stamp = new long[Minutes];
        private readonly long[] _requests = new long[Minutes];
        private readonly long[] _errors = new long[Minutes];

        public void Add(long minute, bool error)
        {
            int slot = (int)(minute % Minutes);
            lock (_lock)
            {
                if (_stamp[slot] != minute)
                {
                    _stamp[slot] = minute;
                    _requests[slot] = 0;
                    _errors[slot] = 0;
                }
                _requests[slot]++;
                if (error)
                    _errors[slot]++;
            }
        }

        public (long[] Requests, long[] Errors) Read(long minute)
        {
            var requests = new long[Minutes];
            var errors = new long[Minutes];
            lock (_lock)
            {
                for (int i = 0; i < Minutes; i++)
                {
                    long m = minute - (Minutes - 1) + i;
                    int slot = (int)(m % Minutes);
                    if (_stamp[slot] == m)
                    {
                        requests[i] = _requests[slot];
                        errors[i] = _errors[slot];
                    }
                }
            }
            return (requests, errors);
        }
    }
}

/// <summary>One label's last hour: <see cref="DeploymentTraffic.Minutes"/> counts each, oldest first.</summary>
public sealed record LabelTraffic(string Label, IReadOnlyList<long> Requests, IReadOnlyList<long> Errors)
{
    public long TotalRequests => Requests.Sum();

    public long TotalErrors => Errors.Sum();
}

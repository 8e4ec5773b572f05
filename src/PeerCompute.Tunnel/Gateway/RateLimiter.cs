using System.Collections.Concurrent;
using System.Diagnostics;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>The per-client limit on public requests.</summary>
public sealed record RateLimitOptions
{
    /// <summary>Tokens added per second to each (client IP, hostname) bucket: the design's 100 requests per second.</summary>
    public double RequestsPerSecond { get; init; } = 100;

    /// <summary>Bucket size: how many requests may arrive at once after a quiet period. Defaults to one second's worth.</summary>
    public double? Burst { get; init; }

    /// <summary>Buckets kept at most; when full (after dropping idle ones), new clients are refused, so memory stays bounded.</summary>
    public int MaxTrackedClients { get; init; } = 100_000;

    /// <summary>A bucket unused this long is full again and is forgotten.</summary>
    public TimeSpan IdleAfter { get; init; } = TimeSpan.FromSeconds(30);

    internal double Capacity => Burst ?? RequestsPerSecond;
}

/// <summary>
/// A token bucket per (client IP, deployment hostname); callers look the route up first, so only real deployments get keys: each request takes a token; tokens come back at the configured rate up
/// to the burst size. Refusals say how long until a token is back (for <c>Retry-After</c>). The clock is injectable
/// so tests need no sleeping.
/// </summary>
public sealed class RateLimiter
{
    private readonly RateLimitOptions _options;
    private readonly Func<long> _now;
    private readonly ConcurrentDictionary<(string Client, string Host), Bucket> _buckets = new();
    private long _lastSweep;

    private static readonly TimeSpan FullTableSweepInterval = TimeSpan.FromSeconds(1);

    public RateLimiter(RateLimitOptions options, Func<long>? timestamp = null)
    {
        if (options.RequestsPerSecond <= 0 || options.Capacity < 1 || options.MaxTrackedClients < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "the rate, burst and table size must be positive (burst at least 1)");
        _options = options;
        _now = timestamp ?? Stopwatch.GetTimestamp;
        _lastSweep = _now();
    }

    public RateLimitOptions Options => _options;

    public int TrackedClients => _buckets.Count;

    /// <summary>Takes a token for the client and host; false with the wait until the next token when there is none.</summary>
    public bool TryAcquire(string client, string host, out TimeSpan retryAfter)
    {
        long now = _now();
        var key = (client, host);
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            if (_buckets.Count >= _options.MaxTrackedClients)
            {
                // Full: a sweep may free room, but at most one a second, so a flood of new keys is not a flood of sweeps.
                if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSweep), now) >= FullTableSweepInterval)
                    Sweep(now, force: true);
                if (_buckets.Count >= _options.MaxTrackedClients)
                {
                    retryAfter = TimeSpan.FromSeconds(1);
                    return false;
                }
            }
            bucket = _buckets.GetOrAdd(key, static (_, state) => new Bucket(state.Capacity, state.Now), (Capacity: _options.Capacity, Now: now));
        }
        bool allowed = bucket.TryTake(now, _options.RequestsPerSecond, _options.Capacity, out retryAfter);
        if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSweep), now) > _options.IdleAfter)
            Sweep(now, force: false);
        return allowed;
    }

    private void Sweep(long now, bool force)
    {
        long last = Volatile.Read(ref _lastSweep);
        if (!force && Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
            return;
        Volatile.Write(ref _lastSweep, now);
        foreach (var (key, bucket) in _buckets)
            if (bucket.IdleSince(now) > _options.IdleAfter)
                _buckets.TryRemove(new KeyValuePair<(string, string), Bucket>(key, bucket));
    }

    private sealed class Bucket(double tokens, long now)
    {
        private readonly Lock _lock = new();
        private double _tokens = tokens;
        private long _updated = now;

        public bool TryTake(long now, double rate, double capacity, out TimeSpan retryAfter)
        {
            lock (_lock)
            {
                double elapsed = Math.Max(0, Stopwatch.GetElapsedTime(_updated, now).TotalSeconds);
                _tokens = Math.Min(capacity, _tokens + elapsed * rate);
                _updated = Math.Max(_updated, now);
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    retryAfter = TimeSpan.Zero;
                    return true;
                }
                retryAfter = TimeSpan.FromSeconds((1 - _tokens) / rate);
                return false;
            }
        }

        public TimeSpan IdleSince(long now)
        {
            lock (_lock)
                return Stopwatch.GetElapsedTime(_updated, now);
        }
    }
}

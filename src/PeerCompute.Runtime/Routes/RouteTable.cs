using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using PeerCompute.Core.Access;

namespace PeerCompute.Runtime.Routes;

/// <summary>One route: a deployment's public name and where it answers; a null upstream means the route is gone.</summary>
public readonly record struct RouteChange(string Name, IPEndPoint? Upstream)
{
    public bool Removed => Upstream is null;
}

/// <summary>
/// Deployment name → the endpoint its container answers on (its bridge address, else its published loopback port), for every deployment that runs. The runtime
/// keeps it current from its own deploys, stops and removals and from every reconcile pass, and pushes each change
/// to whoever watches, so the public path can route without asking the engine per request.
/// </summary>
public sealed class RouteTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, IPEndPoint> _routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RouteAccess> _access = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<string>> _domains = new(StringComparer.Ordinal);
    private readonly List<(string Name, string Domain)> _released = [];
    private readonly List<ChannelWriter<RouteChange>> _watchers = [];
    private bool _completed;

    public int Count
    {
        get { lock (_lock) return _routes.Count; }
    }

    public bool TryGetUpstream(string name, [NotNullWhen(true)] out IPEndPoint? upstream)
    {
        lock (_lock)
            return _routes.TryGetValue(name, out upstream);
    }

    /// <summary>The access rules of the routes that are not public.</summary>
    public IReadOnlyDictionary<string, RouteAccess> AccessSnapshot()
    {
        lock (_lock)
            return new Dictionary<string, RouteAccess>(_access, StringComparer.Ordinal);
    }

    /// <summary>The custom domains of the routes that have any.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> DomainsSnapshot()
    {
        lock (_lock)
            return new Dictionary<string, IReadOnlyList<string>>(_domains, StringComparer.Ordinal);
    }

    /// <summary>The custom domains given up while this provider ran (oldest first), for the gateways to stop holding.</summary>
    public IReadOnlyList<(string Name, string Domain)> ReleasedSnapshot()
    {
        lock (_lock)
            return [.. _released];
    }

    /// <summary>
    /// The deployment <paramref name="name"/> gave up <paramref name="domains"/> (it was stopped or removed): each gateway is
    /// told with the next announcement, which follows at once when the route goes too. Not for a route that goes away for
    /// a moment (a restart, a recreate): the gateway would drop the domain's certificate and verify it again.
    /// </summary>
    /// <param name="announce">Tell the watchers now (as a removal of <paramref name="name"/>, which has no route): for a
    /// deployment that does not run, whose domains would otherwise wait for the next route change.</param>
    internal void Release(string name, IReadOnlyList<string>? domains, bool announce = false)
    {
        if (domains is not { Count: > 0 })
            return;
        lock (_lock)
        {
            foreach (string domain in domains)
                AddReleased(name, domain);
            if (announce && !_routes.ContainsKey(name))
                foreach (var watcher in _watchers)
                    watcher.TryWrite(new RouteChange(name, null));
        }
    }

    private void AddReleased(string name, string domain)
    {
        _released.RemoveAll(r => r.Name == name && r.Domain == domain);
        _released.Add((name, domain));
        if (_released.Count > MaxReleased)
            _released.RemoveRange(0, _released.Count - MaxReleased);
    }

    /// <summary>Released domains remembered at most (the most recent ones): what one announcement may carry.</summary>
    public const int MaxReleased = 256;

    /// <summary>Every route as it is now.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> Snapshot()
    {
        lock (_lock)
            return new Dictionary<string, IPEndPoint>(_routes, StringComparer.Ordinal);
    }

    /// <summary>
    /// Every route there is when enumeration starts, then every change as it happens, in order and with no gap between
    /// the two. Ends when the runtime is disposed, or throws when the token is cancelled.
    /// </summary>
    public async IAsyncEnumerable<RouteChange> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Unbounded: route changes are a handful per deploy, and a slow watcher must not hold up a deploy.
        var channel = Channel.CreateUnbounded<RouteChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (_lock)
        {
            foreach (var (name, upstream) in _routes)
                channel.Writer.TryWrite(new RouteChange(name, upstream));
            if (_completed)
                channel.Writer.TryComplete();
            else
                _watchers.Add(channel.Writer);
        }
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return change;
        }
        finally
        {
            lock (_lock)
                _watchers.Remove(channel.Writer);
        }
    }

    /// <summary>Sets (or with a null upstream removes) a route; watchers hear of it only when it really changed.</summary>
    /// <param name="access">The deployment's rule, with every route set: no default, since a route set without its rule
    /// would be served to anyone (an update or a restart once did that to a private deployment).</param>
    /// <param name="domains">The deployment's custom domains, if any.</param>
    internal void Set(string name, IPEndPoint? upstream, RouteAccess? access, IReadOnlyList<string>? domains)
    {
        lock (_lock)
        {
            bool rulesChanged = false;
            var previousDomains = _domains.GetValueOrDefault(name);
            if (upstream is null || domains is not { Count: > 0 })
            {
                rulesChanged |= _domains.Remove(name);
            }
            else
            {
                rulesChanged |= previousDomains is null || !previousDomains.SequenceEqual(domains, StringComparer.Ordinal);
                _domains[name] = domains;
                _released.RemoveAll(r => r.Name == name && domains.Contains(r.Domain, StringComparer.Ordinal));
                // A domain taken off a running deployment is given up; one that goes with the route (a restart) is not.
                foreach (string dropped in previousDomains?.Except(domains, StringComparer.Ordinal) ?? [])
                    AddReleased(name, dropped);
            }
            var previousAccess = _access.GetValueOrDefault(name);
            if (upstream is null || access is null || access.Mode == AccessMode.Public)
            {
                rulesChanged |= _access.Remove(name);
            }
            else
            {
                rulesChanged |= previousAccess != access;
                _access[name] = access;
            }
            if (upstream is null)
            {
                if (!_routes.Remove(name))
                    return;
            }
            else
            {
                // The same endpoint with other rules or domains is a change too: the gateways must hear of it.
                if (_routes.TryGetValue(name, out var current) && current.Equals(upstream) && !rulesChanged)
                    return;
                _routes[name] = upstream;
            }
            var change = new RouteChange(name, upstream);
            foreach (var watcher in _watchers)
                watcher.TryWrite(change);
        }
    }

    /// <summary>No more changes will come: every watch ends after what it has not read yet.</summary>
    internal void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            foreach (var watcher in _watchers)
                watcher.TryComplete();
            _watchers.Clear();
        }
    }
}

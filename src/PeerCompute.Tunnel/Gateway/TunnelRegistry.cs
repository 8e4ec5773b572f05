using System.Collections.Concurrent;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>How a public hostname resolves.</summary>
public enum RouteLookupResult
{
    /// <summary>Its provider is connected and serves it.</summary>
    Found,
    /// <summary>Its provider served it but is not connected now (or is going away): 502.</summary>
    ProviderOffline,
    /// <summary>Nobody serves it: 404.</summary>
    UnknownHost,
}

/// <summary>The connected providers, one session per tag (so per PeerId), and hostname lookup.</summary>
public sealed class TunnelRegistry(HostnameBindings bindings)
{
    private readonly ConcurrentDictionary<string, ProviderSession> _byTag = new(StringComparer.Ordinal);

    public HostnameBindings Bindings { get; } = bindings;

    public int Count => _byTag.Count;

    public ICollection<ProviderSession> Sessions => _byTag.Values;

    /// <summary>
    /// Makes <paramref name="session"/> the provider's tunnel. A provider has one tunnel: a newer one replaces the
    /// older (a reconnect after a network change must not wait for the stale one to time out); the replaced session
    /// is returned for the caller to close.
    /// </summary>
    public ProviderSession? Register(ProviderSession session)
    {
        ProviderSession? previous = null;
        _byTag.AddOrUpdate(session.Tag, session, (_, existing) =>
        {
            previous = existing;
            return session;
        });
        if (previous is not null && previous != session)
        {
            session.InheritRoutes(previous);
            return previous;
        }
        return null;
    }

    /// <summary>Removes the session if it is still the provider's current one.</summary>
    public bool Unregister(ProviderSession session) =>
        _byTag.TryRemove(new KeyValuePair<string, ProviderSession>(session.Tag, session));

    public ProviderSession? FindByTag(string tag) => _byTag.TryGetValue(tag, out var session) ? session : null;

    /// <summary>Resolves a hostname label (<c>name-tag</c>, already lower case and valid).</summary>
    public RouteLookupResult Find(string label, out ProviderSession? session)
    {
        session = null;
        if (!TunnelHostname.TryParseLabel(label, out _, out string tag))
            return RouteLookupResult.UnknownHost;
        if (_byTag.TryGetValue(tag, out var current))
        {
            // A session that has just (re)connected has not sent its routes yet: what it served before is offline for that moment, not unknown.
            if (!current.Serves(label))
                return Bindings.WasServed(tag, label) ? RouteLookupResult.ProviderOffline : RouteLookupResult.UnknownHost;
            if (!current.IsAvailable)
                return RouteLookupResult.ProviderOffline;
            session = current;
            return RouteLookupResult.Found;
        }
        return Bindings.WasServed(tag, label) ? RouteLookupResult.ProviderOffline : RouteLookupResult.UnknownHost;
    }
}

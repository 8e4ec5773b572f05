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

/// <summary>The connected providers, one tunnel per tag (so per PeerId), and hostname lookup.</summary>
public sealed class TunnelRegistry(HostnameBindings bindings)
{
    private readonly ConcurrentDictionary<string, ProviderTunnel> _byTag = new(StringComparer.Ordinal);

    public HostnameBindings Bindings { get; } = bindings;

    public int Count => _byTag.Count;

    public ICollection<ProviderTunnel> Tunnels => _byTag.Values;

    /// <summary>
    /// Makes <paramref name="tunnel"/> the provider's tunnel. A provider has one tunnel: a newer one replaces the
    /// older (a reconnect after a network change must not wait for the stale one to time out); the replaced tunnel
    /// is returned for the caller to close.
    /// </summary>
    public ProviderTunnel? Register(ProviderTunnel tunnel)
    {
        ProviderTunnel? previous = null;
        _byTag.AddOrUpdate(tunnel.Tag, tunnel, (_, existing) =>
        {
            previous = existing;
            return tunnel;
        });
        if (previous is not null && previous != tunnel)
        {
            tunnel.InheritRoutes(previous);
            return previous;
        }
        return null;
    }

    /// <summary>Removes the tunnel if it is still the provider's current one.</summary>
    public bool Unregister(ProviderTunnel tunnel) =>
        _byTag.TryRemove(new KeyValuePair<string, ProviderTunnel>(tunnel.Tag, tunnel));

    public ProviderTunnel? FindByTag(string tag) => _byTag.TryGetValue(tag, out var tunnel) ? tunnel : null;

    /// <summary>Resolves a hostname label (<c>name-tag</c>, already lower case and valid).</summary>
    public RouteLookupResult Find(string label, out ProviderTunnel? tunnel)
    {
        tunnel = null;
        if (!TunnelHostname.TryParseLabel(label, out _, out string tag))
            return RouteLookupResult.UnknownHost;
        if (_byTag.TryGetValue(tag, out var current))
        {
            // A tunnel that has just (re)connected has not sent its routes yet: what it served before is offline for that moment, not unknown.
            if (!current.Serves(label))
                return Bindings.WasServed(tag, label) ? RouteLookupResult.ProviderOffline : RouteLookupResult.UnknownHost;
            if (!current.IsAvailable)
                return RouteLookupResult.ProviderOffline;
            tunnel = current;
            return RouteLookupResult.Found;
        }
        return Bindings.WasServed(tag, label) ? RouteLookupResult.ProviderOffline : RouteLookupResult.UnknownHost;
    }
}

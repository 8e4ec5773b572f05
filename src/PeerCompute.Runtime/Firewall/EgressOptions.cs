using System.Net;

namespace PeerCompute.Runtime.Firewall;

/// <summary>
/// What deployed containers may reach. By default (filtered) they reach the internet but not the
/// provider host itself, link-local/metadata addresses or private ranges; <see cref="AllowedRanges"/>
/// opens ranges again, <see cref="Open"/> turns the filter off.
/// </summary>
public sealed record EgressOptions
{
    /// <summary>No filtering at all: containers reach everything the host can (the user asked for it).</summary>
    public bool Open { get; init; }

    /// <summary>Destinations opened again although they fall in a blocked range (e.g. a LAN service).</summary>
    public IReadOnlyList<IPNetwork> AllowedRanges { get; init; } = [];

    /// <summary>
    /// DNS servers containers must reach on port 53 (the engine forwards name lookups to them from inside the
    /// container). Null: those of the host's resolv.conf, as the engine uses them.
    /// </summary>
    public IReadOnlyList<IPAddress>? DnsResolvers { get; init; }

    /// <summary>Our chain's name; null derives it from the network name (PEERCOMPUTE-EGRESS for the default network).</summary>
    public string? ChainName { get; init; }

    public string IptablesCommand { get; init; } = "iptables";
    public string Ip6tablesCommand { get; init; } = "ip6tables";

    /// <summary>Guards against a wedged iptables (e.g. waiting on the xtables lock).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    internal string ResolveChainName(string bridge)
        => ChainName ?? (bridge == new RuntimeOptions().NetworkName ? EgressRules.DefaultChain : "PCEGRESS-" + bridge);
}

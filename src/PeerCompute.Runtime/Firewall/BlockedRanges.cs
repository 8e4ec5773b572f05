using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Runtime.Firewall;

/// <summary>
/// The destinations filtered egress refuses: the one list the iptables/ip6tables rules are made from and every check
/// in code (e.g. of a registry host) goes by. The IPv6 list also holds the ways to an IPv4 address through IPv6
/// (NAT64, IPv4-mapped, 6to4), which would otherwise reach the blocked IPv4 ranges around the IPv4 rules.
/// </summary>
public static class BlockedRanges
{
    /// <summary>"This network", private, shared (CGNAT), loopback and link-local (cloud metadata).</summary>
    public static IReadOnlyList<IPNetwork> V4 { get; } =
    [
        IPNetwork.Parse("0.0.0.0/8"),
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"),
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.168.0.0/16"),
    ];

    /// <summary>
    /// Loopback, unique local, link-local, and the IPv4-embedding prefixes: IPv4-mapped <c>::ffff:0:0/96</c>, NAT64
    /// <c>64:ff9b::/96</c> (RFC 6052) and <c>64:ff9b:1::/48</c> (RFC 8215), 6to4 <c>2002::/16</c>.
    /// </summary>
    public static IReadOnlyList<IPNetwork> V6 { get; } =
    [
        IPNetwork.Parse("::1/128"),
        IPNetwork.Parse("::ffff:0:0/96"),
        IPNetwork.Parse("64:ff9b::/96"),
        IPNetwork.Parse("64:ff9b:1::/48"),
        IPNetwork.Parse("2002::/16"),
        IPNetwork.Parse("fc00::/7"),
        IPNetwork.Parse("fe80::/10"),
    ];

    /// <summary>The list of the address family of <paramref name="family"/>.</summary>
    public static IReadOnlyList<IPNetwork> For(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? V6 : V4;

    /// <summary>
    /// True when <paramref name="address"/> is in a blocked range and in none of <paramref name="allowed"/> (the
    /// provider's <c>--allow-egress</c>). An IPv4-mapped address is judged as the IPv4 address it is (a dual-mode
    /// socket connects to that), so an allowed IPv4 range covers it too.
    /// </summary>
    public static bool IsBlocked(IPAddress address, IReadOnlyList<IPNetwork>? allowed = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (allowed is not null && allowed.Any(range => range.Contains(address)))
            return false;
        return For(address.AddressFamily).Any(range => range.Contains(address));
    }
}

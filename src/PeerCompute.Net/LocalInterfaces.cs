using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace PeerCompute.Net;

/// <summary>
/// This machine's network interfaces and their addresses, for the host (expanding a wildcard listen address) and for
/// mDNS (the interfaces to join and announce on). Each caller picks its filter; the enumeration is here once.
/// </summary>
internal static class LocalInterfaces
{
    /// <summary>The host's filter: interfaces reported up.</summary>
    public static bool IsUp(NetworkInterface n) => n.OperationalStatus == OperationalStatus.Up;

    /// <summary>mDNS's filter: multicast-capable and not known to be down (Linux reports lo as Unknown rather than Up).</summary>
    public static bool IsMulticastCapable(NetworkInterface n) =>
        n.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown && n.SupportsMulticast;

    /// <summary>The interfaces that pass <paramref name="filter"/>; none when the machine will not list them.</summary>
    public static List<NetworkInterface> List(Func<NetworkInterface, bool> filter)
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces().Where(filter)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    /// <summary>The unicast addresses of <paramref name="family"/> on the interfaces that pass <paramref name="filter"/>, IPv6 link-local ones left out.</summary>
    public static List<IPAddress> Addresses(Func<NetworkInterface, bool> filter, AddressFamily family)
    {
        try
        {
            return [.. List(filter)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(u => u.Address)
                .Where(a => a.AddressFamily == family && !a.IsIPv6LinkLocal)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}

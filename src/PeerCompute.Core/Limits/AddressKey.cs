using System.Net;
using System.Net.Sockets;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Core.Limits;

/// <summary>Who a per-client limit counts: an IPv4 address, or an IPv6 /64, since one client usually holds a whole /64.</summary>
public static class AddressKey
{
    public static string For(IPAddress? address)
    {
        if (address is null)
            return "-";
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4().ToString();
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            return new IPAddress(bytes).ToString() + "/64";
        }
        return address.ToString();
    }

    /// <summary>The key of a TCP multiaddr's IP; the address's own text for anything else (a relayed one counts per circuit address).</summary>
    public static string For(Multiaddr address) =>
        address.TryGetTcpTarget(out string host, out _) && IPAddress.TryParse(host, out var ip) ? For(ip) : address.ToString();
}

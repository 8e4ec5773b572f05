using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PeerCompute.Runtime.Firewall;

namespace PeerCompute.Runtime.Images;

/// <summary>
/// Decides whether the engine may pull from an image's registry. The engine pulls from the host's own network,
/// outside the egress firewall, so a registry that is (or resolves to) an address the firewall keeps containers
/// from (loopback, private, shared, link-local and metadata ranges: <see cref="EgressRules"/>' lists) or one of the
/// host's own addresses is refused before the engine is asked, unless the operator allowed that registry by name.
/// </summary>
/// <remarks>
/// Every address a name resolves to must be outside the blocked ranges. The engine resolves the name again when it
/// pulls, so a name whose answer changes in between (DNS rebinding) is not caught here; the pull's error text
/// never reaches the requester either way (see <c>ImagePuller</c>).
/// </remarks>
internal sealed class RegistryGuard
{
    /// <summary>The names the engine itself maps to Docker Hub (or to the mirrors its daemon.json sets): the operator's choice, not the requester's.</summary>
    private static readonly string[] DefaultRegistries = [ImageReference.DefaultRegistry, "index.docker.io"];

    private readonly IReadOnlyList<(string Host, int? Port)> _allowed;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;
    private readonly ILogger _logger;

    public RegistryGuard(IReadOnlyList<string> allowed, ILogger logger, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        _allowed = [.. allowed.Select(text => TryParseAllowed(text, out var entry) ? entry
            : throw new ArgumentException($"allowed registry '{text}' is not a host or host:port", nameof(allowed)))];
        _logger = logger;
        _resolve = resolve ?? ((host, token) => Dns.GetHostAddressesAsync(host, token));
    }

    /// <summary>An allow-list entry (see <see cref="RegistryNames"/>), split.</summary>
    private static bool TryParseAllowed(string? text, out (string Host, int? Port) entry)
    {
        entry = default;
        if (!RegistryNames.TryNormalize(text, out string? registry) || !ImageReference.TrySplitRegistry(registry, out string? host, out int? port))
            return false;
        entry = (host, port);
        return true;
    }

    /// <summary>Throws <see cref="RuntimeErrorCode.RegistryBlocked"/> (or, for a name that does not resolve, <see cref="RuntimeErrorCode.ImagePullFailed"/>).</summary>
    public async Task EnsureAllowedAsync(ImageReference image, CancellationToken cancellationToken)
    {
        if (image.Registry is not { } registry || !ImageReference.TrySplitRegistry(registry, out string? host, out int? port))
            return;
        if (port is null && DefaultRegistries.Contains(host, StringComparer.Ordinal))
            return;
        if (_allowed.Any(a => a.Host == host && (a.Port is null || a.Port == port)))
            return;

        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await _resolve(host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                _logger.LogWarning("Registry {Registry} of {Image} does not resolve: {Reason}", registry, image, ex.Message);
                addresses = [];
            }
            if (addresses.Length == 0)
                throw new RuntimeException(RuntimeErrorCode.ImagePullFailed, $"image {image}: registry {registry} could not be reached");
        }
        var blocked = addresses.Where(IsBlocked).ToList();
        if (blocked.Count == 0)
            return;
        // The provider's log has the addresses; the requester learns only that the registry is not one the provider pulls from.
        _logger.LogWarning("Refused a pull of {Image}: registry {Registry} is or resolves to blocked address(es) {Addresses}", image, registry, string.Join(", ", blocked));
        throw new RuntimeException(RuntimeErrorCode.RegistryBlocked,
            $"image {image}: registry {registry} is on a loopback, private, link-local or the provider's own address, which the provider does not pull from "
            + $"(its operator can allow it with --allow-registry {registry})");
    }

    internal static bool IsBlocked(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        else if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            address = new IPAddress(address.GetAddressBytes());
        if (address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
            return true;
        return BlockedRanges.IsBlocked(address) || HostAddresses().Contains(address);
    }

    /// <summary>The host's own addresses now (the firewall matches them per packet; this is the same idea for the engine's pulls).</summary>
    private static HashSet<IPAddress> HostAddresses()
    {
        var addresses = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    var address = unicast.Address;
                    if (address.IsIPv4MappedToIPv6)
                        address = address.MapToIPv4();
                    else if (address.AddressFamily == AddressFamily.InterNetworkV6)
                        address = new IPAddress(address.GetAddressBytes()); // without its scope, as a looked-up address has none
                    addresses.Add(address);
                }
            }
        }
        catch (NetworkInformationException)
        {
        }
        return addresses;
    }
}

namespace PeerCompute.Net.Mdns;

/// <summary>Named limits and timings of <see cref="MdnsService"/>.</summary>
public sealed class MdnsServiceOptions
{
    public const string ServiceName = "_p2p._udp.local";

    /// <summary>5353 on a real network; tests in a namespace may use another.</summary>
    public int Port { get; init; } = 5353;

    /// <summary>Queries are sent at start and then this often; <see cref="Timeout.InfiniteTimeSpan"/> for on demand only.</summary>
    public TimeSpan QueryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TTL of the records we announce (js uses 120 s).</summary>
    public uint Ttl { get; init; } = 120;

    /// <summary>Answer <c>_p2p._udp.local</c> queries with our addresses; off for a discover-only service.</summary>
    public bool Announce { get; init; } = true;

    /// <summary>Our instance name; null picks a random lower-case alphanumeric one of 32 to 63 characters.</summary>
    public string? PeerName { get; init; }

    /// <summary>Answers are multicast, so one answer serves every asker: at most one per this interval.</summary>
    public TimeSpan MinResponseInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Multiaddrs reported per discovered peer.</summary>
    public int MaxAddressesPerPeer { get; init; } = 16;

    /// <summary>Cap on the packets we send (RFC 6762's 9000 bytes).</summary>
    public int MaxPacketBytes { get; init; } = 9000;

    /// <summary>Also use IPv6 (ff02::fb) when the machine allows it.</summary>
    public bool UseIPv6 { get; init; } = true;
}

using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Net.Dns;

/// <summary>
/// TXT records that come and go while the server runs: the ACME client's <c>_acme-challenge</c> values. One name can
/// hold several values at once (the apex and the wildcard certificate names share <c>_acme-challenge.DOMAIN</c>).
/// Bounded in names, values per name and value length, so what a record set adds to a response stays bounded too.
/// </summary>
public sealed class DnsTxtRecords
{
    public const int MaxNames = 64;
    public const int MaxValuesPerName = 8;
    public const int MaxValueBytes = 255;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<string>> _records = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="value"/> under <paramref name="name"/> (no trailing dot, any case); adding it twice keeps one.</summary>
    public void Add(string name, string value)
    {
        string key = Key(name);
        if (Encoding.UTF8.GetByteCount(value) > MaxValueBytes)
            throw new ArgumentException($"a TXT value is at most {MaxValueBytes} bytes", nameof(value));
        lock (_lock)
        {
            if (!_records.TryGetValue(key, out var values))
            {
                if (_records.Count >= MaxNames)
                    throw new InvalidOperationException($"already {MaxNames} names with TXT records");
                _records[key] = values = [];
            }
            if (values.Contains(value, StringComparer.Ordinal))
                return;
            if (values.Count >= MaxValuesPerName)
                throw new InvalidOperationException($"{key} already holds {MaxValuesPerName} TXT values");
            values.Add(value);
        }
    }

    /// <summary>Removes one value; the name goes away with its last value.</summary>
    public void Remove(string name, string value)
    {
        string key = Key(name);
        lock (_lock)
        {
            if (_records.TryGetValue(key, out var values) && values.Remove(value) && values.Count == 0)
                _records.Remove(key);
        }
    }

    /// <summary>The values under <paramref name="name"/> (lower case, no trailing dot), or an empty list.</summary>
    public IReadOnlyList<string> Get(string name)
    {
        lock (_lock)
            return _records.TryGetValue(name, out var values) ? [.. values] : [];
    }

    /// <summary>Whether a name holding records lies strictly below <paramref name="name"/> (which then exists, empty).</summary>
    internal bool HasDescendant(string name)
    {
        string suffix = "." + name;
        lock (_lock)
            return _records.Keys.Any(k => k.EndsWith(suffix, StringComparison.Ordinal));
    }

    private static string Key(string name)
    {
        string key = name.TrimEnd('.').ToLowerInvariant();
        if (key.Length == 0 || key.Length > 253)
            throw new ArgumentException($"'{name}' is not a DNS name", nameof(name));
        return key;
    }
}

/// <summary>
/// The zone the gateway is authoritative for: every host name in it (the apex and any name below) has the gateway's
/// public addresses; the apex has SOA and NS; TXT records come from <see cref="Txt"/>.
/// </summary>
public sealed class DnsZone
{
    public const int MaxAddresses = 16;

    public DnsZone(string apex, IReadOnlyList<IPAddress> addresses, DnsTxtRecords? txt = null, string? nameServer = null, uint? serial = null)
    {
        Apex = apex.TrimEnd('.').ToLowerInvariant();
        if (Apex.Length == 0)
            throw new ArgumentException("the zone needs a domain", nameof(apex));
        ApexLabels = [.. Apex.Split('.').Select(Encoding.ASCII.GetBytes)];
        if (addresses.Count > MaxAddresses)
            throw new ArgumentException($"at most {MaxAddresses} public addresses", nameof(addresses));
        Addresses = [.. addresses.Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Distinct()];
        Txt = txt ?? new DnsTxtRecords();
        NameServer = (nameServer ?? "ns." + Apex).TrimEnd('.').ToLowerInvariant();
        Serial = serial ?? (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        EncodedApex = DnsMessageWriter.EncodeName(Apex);
        Soa = DnsMessageWriter.SoaData(NameServer, "hostmaster." + Apex, Serial, refresh: 3600, retry: 600, expire: 1_209_600, minimum: NegativeTtl);
        Ns = DnsMessageWriter.EncodeName(NameServer);
    }

    public string Apex { get; }
    public IReadOnlyList<IPAddress> Addresses { get; }
    public DnsTxtRecords Txt { get; }

    /// <summary>The name the NS record gives (default <c>ns.DOMAIN</c>, which answers with the public addresses like every host name).</summary>
    public string NameServer { get; }
    public uint Serial { get; }

    public uint AddressTtl { get; init; } = 300;

    /// <summary>Short: a challenge value must be seen soon after it changes.</summary>
    public uint TxtTtl { get; init; } = 60;
    public uint ApexTtl { get; init; } = 3600;

    /// <summary>How long a resolver may remember that a name or type does not exist (the SOA minimum, RFC 2308).</summary>
    public const uint NegativeTtl = 60;

    internal byte[][] ApexLabels { get; }
    internal byte[] EncodedApex { get; }
    internal byte[] Soa { get; }
    internal byte[] Ns { get; }

    internal IEnumerable<byte[]> AddressData(AddressFamily family) =>
        Addresses.Where(a => a.AddressFamily == family).Select(a => a.GetAddressBytes());
}

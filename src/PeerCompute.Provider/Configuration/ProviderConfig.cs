using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Resources;

namespace PeerCompute.Provider.Configuration;

/// <summary>
/// The provider's settings. Each can come from the config file (<c>$PEERCOMPUTE_HOME/peercomputed.json</c>,
/// or <c>--config FILE</c>) and be overridden on the command line; the defaults are those in the README's Configuration table.
/// </summary>
public sealed record ProviderConfig
{
    public const int DefaultPort = 9000;
    public const int DefaultMaxCpuMillicores = 4000;
    public const long DefaultMaxMemoryBytes = 4L << 30;
    public const int DefaultMaxDeploys = 10;
    public const string FileName = "peercomputed.json";
    public const int DefaultGatewayPort = 8443;
    public const long DefaultMaxWritableBytes = 1L << 30;
    public const long DefaultMaxImageBytes = 8L << 30;
    public const long DefaultMaxStorageBytes = 10L << 30;
    public const long DefaultVolumeSizeBytes = 1L << 30;
    // libp2p connection limits, sized for a Raspberry Pi: 128 in all, of which strangers (no key in the trust list) can
    // hold at most 32 in their handshake and 48 open, so 48 are always left for trusted peers.
    public const int DefaultMaxConnections = 128;
    public const int DefaultMaxUntrustedConnections = 48;
    public const int DefaultMaxUntrustedConnectionsPerAddress = 4;
    public const int DefaultMaxHandshakes = 32;
    public const int DefaultMaxHandshakesPerAddress = 16;
    public const int DefaultHandshakeTimeoutSeconds = 10;
    public const int DefaultUntrustedIdleTimeoutSeconds = 30;
    public const int DefaultMaxUntrustedPeers = 256;
    public const int MaxTimeoutSeconds = 3600;

    public int Port { get; init; } = DefaultPort;
    public IReadOnlyList<string> Listen { get; init; } = [];
    public int MaxCpuMillicores { get; init; } = DefaultMaxCpuMillicores;
    public long MaxMemoryBytes { get; init; } = DefaultMaxMemoryBytes;
    public int MaxDeploys { get; init; } = DefaultMaxDeploys;
    /// <summary>Gateways to hold a tunnel to (--gateway, repeatable), each HOST:PORT; every deployment answers on each.</summary>
    public IReadOnlyList<string> Gateways { get; init; } = [];
    public string? GatewayCa { get; init; }
    /// <summary>Key pins (--gateway-pin): none, one for every gateway, or one per gateway in the order of <see cref="Gateways"/>.</summary>
    public IReadOnlyList<string> GatewayPins { get; init; } = [];
    public bool NoMdns { get; init; }
    /// <summary>Port of the local status page on 127.0.0.1 (--status-port); null: none.</summary>
    public int? StatusPort { get; init; }
    public string LogFormat { get; init; } = "text";
    /// <summary>Containers may reach everything (--egress open) instead of only non-private destinations.</summary>
    public bool EgressOpen { get; init; }
    /// <summary>Ranges opened again although blocked by default (--allow-egress CIDR).</summary>
    public IReadOnlyList<System.Net.IPNetwork> AllowEgress { get; init; } = [];
    /// <summary>
    /// Relays (libp2p circuit relay v2) to hold a reservation on, besides the gateway's own (--relay): each a multiaddr
    /// ending in <c>/p2p/&lt;relay&gt;</c>, normalised to end in <c>/p2p-circuit</c>.
    /// </summary>
    public IReadOnlyList<string> Relays { get; init; } = [];

    /// <summary>Registries (HOST or HOST:PORT) the engine may pull from although they are on a blocked range (--allow-registry).</summary>
    public IReadOnlyList<string> AllowRegistry { get; init; } = [];
    /// <summary>Last-log bytes (as sent, after JSON escaping) one deployment's status may carry (--status-log-bytes).</summary>
    public int StatusLogBytes { get; init; } = PeerCompute.Core.Protocol.StatusLimits.DefaultMaxLogBytesPerDeployment;
    /// <summary>Last-log bytes one status response may carry for all deployments together (--status-log-bytes-total).</summary>
    public int StatusLogBytesTotal { get; init; } = PeerCompute.Core.Protocol.StatusLimits.DefaultMaxLogBytesTotal;

    /// <summary>Size cap of a container's writable layer, enforced by the storage driver when it can (--max-writable-size).</summary>
    public long MaxWritableBytes { get; init; } = DefaultMaxWritableBytes;
    /// <summary>Largest image, unpacked, a deployment may run (--max-image-size).</summary>
    public long MaxImageBytes { get; init; } = DefaultMaxImageBytes;
    /// <summary>Run --writable deployments although the engine cannot cap their writable layer (--allow-unbounded-writable).</summary>
    public bool AllowUnboundedWritable { get; init; }

    public const double DefaultRestartBackoffMaxSeconds = 300;
    public const double MinRestartBackoffMaxSeconds = 0.5;
    public const double MaxRestartBackoffMaxSeconds = 86400;
    /// <summary>Longest wait, in seconds, before the provider starts a crash-looping container again (--restart-backoff-max).</summary>
    public double RestartBackoffMaxSeconds { get; init; } = DefaultRestartBackoffMaxSeconds;

    /// <summary>libp2p connections at once, in their handshake or open (--max-connections).</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;
    /// <summary>Open connections of peers not in the trust list (--max-untrusted-connections).</summary>
    public int MaxUntrustedConnections { get; init; } = DefaultMaxUntrustedConnections;
    /// <summary>Of those, from one IPv4 address or IPv6 /64 (--max-untrusted-connections-per-address).</summary>
    public int MaxUntrustedConnectionsPerAddress { get; init; } = DefaultMaxUntrustedConnectionsPerAddress;
    /// <summary>Connections still in their handshake, before the peer's key is known (--max-handshakes).</summary>
    public int MaxHandshakes { get; init; } = DefaultMaxHandshakes;
    /// <summary>Of those, from one IPv4 address or IPv6 /64 (--max-handshakes-per-address).</summary>
    public int MaxHandshakesPerAddress { get; init; } = DefaultMaxHandshakesPerAddress;
    /// <summary>Seconds a connection's handshake (multistream, Noise, yamux) may take (--handshake-timeout).</summary>
    public int HandshakeTimeoutSeconds { get; init; } = DefaultHandshakeTimeoutSeconds;
    /// <summary>Seconds an untrusted peer's connection may stay without a stream before it is closed (--untrusted-idle-timeout).</summary>
    public int UntrustedIdleTimeoutSeconds { get; init; } = DefaultUntrustedIdleTimeoutSeconds;
    /// <summary>Untrusted peers whose addresses are remembered (from identify) at most (--max-untrusted-peers).</summary>
    public int MaxUntrustedPeers { get; init; } = DefaultMaxUntrustedPeers;

    /// <summary>Sum of the sizes of all volumes (--max-storage).</summary>
    public long MaxStorageBytes { get; init; } = DefaultMaxStorageBytes;
    /// <summary>Size of a volume asked for without one (--default-volume-size).</summary>
    public long DefaultVolumeBytes { get; init; } = DefaultVolumeSizeBytes;
    /// <summary>Where volume files and their mounts live (--volumes-folder); null: provider/volumes in the home.</summary>
    public string? VolumesFolder { get; init; }
    /// <summary>Bytes of a replaced container's log kept per deployment for <c>logs --previous</c> (--previous-logs-size; 0 keeps none).</summary>
    public long PreviousLogsBytes { get; init; } = DefaultPreviousLogsBytes;
    public const long DefaultPreviousLogsBytes = 4L << 20;
    /// <summary>Revisions kept per deployment for history and rollback (--revision-history).</summary>
    public int RevisionHistory { get; init; } = DefaultRevisionHistory;
    public const int DefaultRevisionHistory = 10;
    /// <summary>Seconds a replaced container may take to finish its connections before it is stopped (--update-drain-timeout).</summary>
    public int UpdateDrainTimeoutSeconds { get; init; } = DefaultUpdateDrainTimeoutSeconds;
    public const int DefaultUpdateDrainTimeoutSeconds = 30;

    /// <summary>Connections only trusted peers can have: what strangers cannot take even all together.</summary>
    public int ReservedForTrusted => MaxConnections - MaxHandshakes - MaxUntrustedConnections;

    /// <summary>Why the connection limits do not fit together (null when they do): strangers must leave room for trusted peers.</summary>
    public string? ConnectionLimitsProblem => ReservedForTrusted >= 1 ? null :
        $"--max-handshakes ({MaxHandshakes}) plus --max-untrusted-connections ({MaxUntrustedConnections}) must stay below --max-connections ({MaxConnections}): the difference is kept for trusted peers";

    /// <summary>What a status response may carry under this configuration.</summary>
    public PeerCompute.Core.Protocol.StatusLimits StatusLimits => new() { MaxLogBytesPerDeployment = StatusLogBytes, MaxLogBytesTotal = StatusLogBytesTotal };

    /// <summary>Why the gateway pins do not fit the gateways (null when they do).</summary>
    public string? GatewayPinsProblem => GatewayPins.Count switch
    {
        0 or 1 => null,
        _ when GatewayPins.Count == Gateways.Count => null,
        _ => $"--gateway-pin is given {GatewayPins.Count} times for {Gateways.Count} gateway(s): give one pin for all of them, or one per --gateway in the same order",
    };

    /// <summary>The pin for the gateway at <paramref name="index"/> in <see cref="Gateways"/>, if any.</summary>
    public string? GatewayPinFor(int index) => GatewayPins.Count switch
    {
        0 => null,
        1 => GatewayPins[0],
        _ => GatewayPins[index],
    };

    /// <summary>The runtime's egress settings for this configuration.</summary>
    public PeerCompute.Runtime.Firewall.EgressOptions Egress => new() { Open = EgressOpen, AllowedRanges = AllowEgress };

    /// <summary>The listen multiaddrs in effect: --listen, else all interfaces on --port.</summary>
    public IReadOnlyList<string> EffectiveListen =>
        Listen.Count > 0 ? Listen : [$"/ip4/0.0.0.0/tcp/{Port}", $"/ip6/::/tcp/{Port}"];

    public static ProviderConfig Load(string path, bool required)
    {
        if (!File.Exists(path))
            return required ? throw new ConfigException($"Config file {path} does not exist.") : new ProviderConfig();
        ProviderConfigFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllBytes(path), ConfigJsonContext.Default.ProviderConfigFile);
        }
        catch (JsonException ex)
        {
            throw new ConfigException($"Config file {path} is not valid: {ex.Message}");
        }
        if (file is null)
            return new ProviderConfig();
        var config = new ProviderConfig();
        return config.Apply(file, path);
    }

    /// <summary>Overlays the values present in <paramref name="file"/>; <paramref name="source"/> names it in errors.</summary>
    public ProviderConfig Apply(ProviderConfigFile file, string source)
    {
        var c = this;
        if (file.Port is { } port)
            c = c with { Port = port is > 0 and <= 65535 ? port : throw Bad(source, "port", port.ToString()) };
        if (file.Listen is { } listen)
            c = c with { Listen = listen.Contains(null!) ? throw Bad(source, "listen", "null", "expected multiaddrs such as /ip4/0.0.0.0/tcp/9000") : listen };
        if (file.MaxCpu is { } cpu)
            c = c with { MaxCpuMillicores = ParseMaxCpu(cpu) ?? throw Bad(source, "max-cpu", cpu) };
        if (file.MaxMemory is { } memory)
            c = c with { MaxMemoryBytes = Quantities.TryParseBytes(memory, out long bytes) ? bytes : throw Bad(source, "max-memory", memory) };
        if (file.MaxDeploys is { } deploys)
            c = c with { MaxDeploys = deploys > 0 ? deploys : throw Bad(source, "max-deploys", deploys.ToString()) };
        if (file.Gateway is { } gateways)
        {
            if (gateways.Any(string.IsNullOrWhiteSpace))
                throw Bad(source, "gateway", "", "expected HOST:PORT, e.g. gw.example.com:8443");
            var distinct = gateways.Select(g => g.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            c = c with { Gateways = distinct.Count == gateways.Count ? distinct : throw Bad(source, "gateway", string.Join(", ", gateways), "a gateway is named twice") };
        }
        if (file.GatewayCa is { } ca)
            c = c with { GatewayCa = ca };
        if (file.GatewayPin is { } pins)
            c = c with { GatewayPins = pins.Any(string.IsNullOrWhiteSpace) ? throw Bad(source, "gateway-pin", "", "expected the pin 'gateway pin' prints") : pins };
        if (file.NoMdns is { } noMdns)
            c = c with { NoMdns = noMdns };
        if (file.StatusPort is { } statusPort)
            c = c with { StatusPort = statusPort is > 0 and <= 65535 ? statusPort : throw Bad(source, "status-port", statusPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "expected a port from 1 to 65535") };
        if (file.Egress is { } egress)
            c = c with { EgressOpen = egress switch { "open" => true, "filtered" => false, _ => throw Bad(source, "egress", egress, "expected filtered or open") } };
        if (file.AllowEgress is { } allow)
        {
            var ranges = new List<System.Net.IPNetwork>();
            foreach (string text in allow)
                ranges.Add(PeerCompute.Runtime.Firewall.EgressRules.TryParseRange(text, out var range) ? range : throw Bad(source, "allow-egress", text ?? "null", "expected a CIDR range such as 192.168.1.0/24, or one address"));
            c = c with { AllowEgress = ranges };
        }
        if (file.AllowRegistry is { } registries)
        {
            var allowed = new List<string>();
            foreach (string text in registries)
                allowed.Add(PeerCompute.Runtime.Images.RegistryNames.TryNormalize(text, out string? registry) ? registry : throw Bad(source, "allow-registry", text ?? "null", "expected a registry HOST or HOST:PORT as in image references, e.g. 127.0.0.1:5000 or registry.lan"));
            c = c with { AllowRegistry = allowed };
        }
        if (file.Relay is { } relays)
        {
            var parsed = new List<string>();
            foreach (string text in relays)
                parsed.Add(NormalizeRelay(text) ?? throw Bad(source, "relay", text ?? "null", "expected a relay's multiaddr ending in its /p2p/<peer id>, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…"));
            c = c with { Relays = parsed };
        }
        if (file.StatusLogBytes is { } logBytes)
            c = c with { StatusLogBytes = ParseLogBudget(logBytes) ?? throw Bad(source, "status-log-bytes", logBytes, "expected a size up to 512KiB, e.g. 16KiB") };
        if (file.StatusLogBytesTotal is { } logTotal)
            c = c with { StatusLogBytesTotal = ParseLogBudget(logTotal) ?? throw Bad(source, "status-log-bytes-total", logTotal, "expected a size up to 512KiB, e.g. 256KiB") };
        if (file.MaxWritableSize is { } writable)
            c = c with { MaxWritableBytes = Quantities.TryParseBytes(writable, out long cap) && cap >= MinWritableBytes ? cap : throw Bad(source, "max-writable-size", writable, "expected a size of at least 16MiB, e.g. 1GiB") };
        if (file.MaxImageSize is { } imageSize)
            c = c with { MaxImageBytes = Quantities.TryParseBytes(imageSize, out long cap) && cap > 0 ? cap : throw Bad(source, "max-image-size", imageSize, "expected a size such as 8GiB") };
        if (file.AllowUnboundedWritable is { } unbounded)
            c = c with { AllowUnboundedWritable = unbounded };
        if (file.RestartBackoffMax is { } backoff)
            c = c with
            {
                RestartBackoffMaxSeconds = backoff is >= MinRestartBackoffMaxSeconds and <= MaxRestartBackoffMaxSeconds ? backoff
                    : throw Bad(source, "restart-backoff-max", backoff.ToString(System.Globalization.CultureInfo.InvariantCulture), $"expected seconds from {MinRestartBackoffMaxSeconds} to {MaxRestartBackoffMaxSeconds}"),
            };
        if (file.MaxStorage is { } storage)
            c = c with { MaxStorageBytes = Quantities.TryParseBytes(storage, out long cap) ? cap : throw Bad(source, "max-storage", storage, "expected a size such as 10GB") };
        if (file.DefaultVolumeSize is { } volumeSize)
            c = c with { DefaultVolumeBytes = Quantities.TryParseBytes(volumeSize, out long size) && size >= MinVolumeBytes ? size : throw Bad(source, "default-volume-size", volumeSize, "expected a size of at least 16MiB, e.g. 1GB") };
        if (file.VolumesFolder is { } volumesFolder)
            c = c with { VolumesFolder = Path.IsPathFullyQualified(volumesFolder) ? volumesFolder : throw Bad(source, "volumes-folder", volumesFolder, "expected an absolute path") };
        c = c with
        {
            MaxConnections = AtLeastOne(file.MaxConnections, c.MaxConnections, source, "max-connections"),
            MaxUntrustedConnections = AtLeastOne(file.MaxUntrustedConnections, c.MaxUntrustedConnections, source, "max-untrusted-connections"),
            MaxUntrustedConnectionsPerAddress = AtLeastOne(file.MaxUntrustedConnectionsPerAddress, c.MaxUntrustedConnectionsPerAddress, source, "max-untrusted-connections-per-address"),
            MaxHandshakes = AtLeastOne(file.MaxHandshakes, c.MaxHandshakes, source, "max-handshakes"),
            MaxHandshakesPerAddress = AtLeastOne(file.MaxHandshakesPerAddress, c.MaxHandshakesPerAddress, source, "max-handshakes-per-address"),
            HandshakeTimeoutSeconds = Seconds(file.HandshakeTimeout, c.HandshakeTimeoutSeconds, source, "handshake-timeout"),
            UntrustedIdleTimeoutSeconds = Seconds(file.UntrustedIdleTimeout, c.UntrustedIdleTimeoutSeconds, source, "untrusted-idle-timeout"),
            MaxUntrustedPeers = AtLeastOne(file.MaxUntrustedPeers, c.MaxUntrustedPeers, source, "max-untrusted-peers"),
        };
        if (file.PreviousLogsSize is { } previousLogs)
            c = c with { PreviousLogsBytes = previousLogs.Trim() == "0" ? 0 : Quantities.TryParseBytes(previousLogs, out long kept) && kept >= 0 && kept <= 1L << 30 ? kept : throw Bad(source, "previous-logs-size", previousLogs, "expected a size up to 1GiB, e.g. 4MiB, or 0 to keep none") };
        c = c with
        {
            RevisionHistory = AtLeastOne(file.RevisionHistory, c.RevisionHistory, source, "revision-history"),
            UpdateDrainTimeoutSeconds = Seconds(file.UpdateDrainTimeout, c.UpdateDrainTimeoutSeconds, source, "update-drain-timeout"),
        };
        if (file.LogFormat is { } format)
            c = c with { LogFormat = format is "text" or "json" ? format : throw Bad(source, "log-format", format) };
        return c;
    }

    /// <summary>Millicores: a whole number (<c>4000</c>) or with the m suffix (<c>4000m</c>).</summary>
    public static int? ParseMaxCpu(string text)
    {
        text = text.Trim();
        if (text.EndsWith('m'))
            text = text[..^1];
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int m) && m > 0 ? m : null;
    }

    /// <summary>
    /// A log budget: at most half the 1 MiB frame, so names, images and the rest of a full status always fit beside it.
    /// </summary>
    /// <summary>
    /// A relay's address as a listen address, <c>…/p2p/&lt;relay&gt;/p2p-circuit</c> (given with or without the
    /// <c>/p2p-circuit</c>); null when it is not a TCP address that names the relay.
    /// </summary>
    public static string? NormalizeRelay(string? text)
    {
        if (!PeerCompute.Core.Multiformats.Multiaddr.TryParse(text?.Trim(), out var address, out _))
            return null;
        if (!address.IsRelayed)
            address = PeerCompute.Core.Multiformats.Multiaddr.Parse(address + "/p2p-circuit");
        return address.TryGetRelay(out var relay, out _, out var target) && target is null && relay.WithoutPeerId().Components.Count >= 2
            ? address.ToString()
            : null;
    }

    private static int? ParseLogBudget(string text) =>
        Quantities.TryParseBytes(text, out long bytes) && bytes is > 0 and <= MaxStatusLogBytes ? (int)bytes : null;

    /// <summary>The smallest volume the runtime makes (ext4's own metadata takes much of less).</summary>
    public const long MinVolumeBytes = 16L << 20;

    /// <summary>Below this a writable layer could not hold what an engine writes into a new container.</summary>
    public const long MinWritableBytes = 16L << 20;

    public const int MaxStatusLogBytes = PeerCompute.Core.Protocol.FrameCodec.DefaultMaxPayloadLength / 2;

    private static int AtLeastOne(int? value, int current, string source, string key) => value switch
    {
        null => current,
        >= 1 => value.Value,
        _ => throw Bad(source, key, value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), "expected a whole number of at least 1"),
    };

    private static int Seconds(int? value, int current, string source, string key) => value switch
    {
        null => current,
        >= 1 and <= MaxTimeoutSeconds => value.Value,
        _ => throw Bad(source, key, value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), $"expected seconds from 1 to {MaxTimeoutSeconds}"),
    };

    private static ConfigException Bad(string source, string key, string value, string? hint = null) =>
        new($"Invalid {key} '{value}' in {source}{(hint is null ? "" : $" ({hint})")}.");
}

public sealed class ConfigException(string message) : Exception(message);

/// <summary>The config file's shape: every field optional, names as on the command line.</summary>
public sealed record ProviderConfigFile(
    int? Port = null,
    IReadOnlyList<string>? Listen = null,
    string? MaxCpu = null,
    string? MaxMemory = null,
    int? MaxDeploys = null,
    [property: JsonConverter(typeof(OneOrManyConverter))] IReadOnlyList<string>? Gateway = null,
    string? GatewayCa = null,
    [property: JsonConverter(typeof(OneOrManyConverter))] IReadOnlyList<string>? GatewayPin = null,
    bool? NoMdns = null,
    string? LogFormat = null,
    string? Egress = null,
    IReadOnlyList<string>? AllowEgress = null,
    string? StatusLogBytes = null,
    string? StatusLogBytesTotal = null,
    IReadOnlyList<string>? AllowRegistry = null,
    string? MaxWritableSize = null,
    string? MaxImageSize = null,
    bool? AllowUnboundedWritable = null,
    int? MaxConnections = null,
    int? MaxUntrustedConnections = null,
    int? MaxUntrustedConnectionsPerAddress = null,
    int? MaxHandshakes = null,
    int? MaxHandshakesPerAddress = null,
    int? HandshakeTimeout = null,
    int? UntrustedIdleTimeout = null,
    int? MaxUntrustedPeers = null,
    IReadOnlyList<string>? Relay = null,
    int? StatusPort = null,
    double? RestartBackoffMax = null,
    string? MaxStorage = null,
    string? DefaultVolumeSize = null,
    string? VolumesFolder = null,
    string? PreviousLogsSize = null,
    int? RevisionHistory = null,
    int? UpdateDrainTimeout = null);

/// <summary>A setting that may name one value (<c>"gateway": "gw:8443"</c>, as before several were possible) or a list.</summary>
internal sealed class OneOrManyConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
            return [reader.GetString()!];
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException("expected a string or an array of strings");
        var values = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            values.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException("expected a string or an array of strings"));
        return values;
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (string item in value)
            writer.WriteStringValue(item);
        writer.WriteEndArray();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.KebabCaseLower, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, WriteIndented = true)]
[JsonSerializable(typeof(ProviderConfigFile))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;

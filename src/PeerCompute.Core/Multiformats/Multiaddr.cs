using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Multiformats;

/// <summary>The multiaddr protocols Peer Compute understands, by multicodec code.</summary>
public enum MultiaddrProtocol
{
    Ip4 = 4,
    Tcp = 6,
    Dns = 53,
    Dns4 = 54,
    Dns6 = 55,
    DnsAddr = 56,
    Ip6 = 41,
    Udp = 273,
    P2p = 421,

    /// <summary><c>/p2p-circuit</c> (0x0122): a relayed hop; it has no value.</summary>
    P2pCircuit = 290,
}

/// <summary>
/// One <c>/proto/value</c> pair of a multiaddr; <see cref="Value"/> is the binary form, empty for a protocol that
/// takes no value (<c>/p2p-circuit</c>).
/// </summary>
public readonly record struct MultiaddrComponent(MultiaddrProtocol Protocol, ReadOnlyMemory<byte> Value)
{
    public string Name => Multiaddr.NameOf(Protocol);

    public string ValueText => Protocol switch
    {
        MultiaddrProtocol.Ip4 or MultiaddrProtocol.Ip6 => new IPAddress(Value.Span).ToString(),
        MultiaddrProtocol.Tcp or MultiaddrProtocol.Udp => BinaryPrimitives.ReadUInt16BigEndian(Value.Span).ToString(System.Globalization.CultureInfo.InvariantCulture),
        MultiaddrProtocol.P2p => Base58.Encode(Value.Span),
        MultiaddrProtocol.P2pCircuit => "",
        _ => Encoding.UTF8.GetString(Value.Span),
    };

    public override string ToString() => Multiaddr.HasValue(Protocol) ? $"/{Name}/{ValueText}" : $"/{Name}";
}

/// <summary>
/// A self-describing network address (<c>/ip4/127.0.0.1/tcp/9000/p2p/12D3KooW…</c>), in text and binary form.
/// </summary>
public sealed class Multiaddr : IEquatable<Multiaddr>
{
    /// <summary>Binary multiaddrs larger than this are refused (they come from the network).</summary>
    public const int MaxBinaryLength = 1024;

    private readonly MultiaddrComponent[] _components;

    private Multiaddr(MultiaddrComponent[] components) => _components = components;

    public IReadOnlyList<MultiaddrComponent> Components => _components;

    /// <summary>The PeerId named by the last <c>/p2p/</c> component, if any.</summary>
    public PeerId? PeerId
    {
        get
        {
            for (int i = _components.Length - 1; i >= 0; i--)
                if (_components[i].Protocol == MultiaddrProtocol.P2p)
                    return Identity.PeerId.FromMultihash(_components[i].Value.Span);
            return null;
        }
    }

    /// <summary>True when the address goes through a relay (it holds a <c>/p2p-circuit</c> component).</summary>
    public bool IsRelayed => Array.Exists(_components, c => c.Protocol == MultiaddrProtocol.P2pCircuit);

    /// <summary>
    /// Splits a relayed address <c>&lt;relay address&gt;/p2p/&lt;relay&gt;/p2p-circuit[/p2p/&lt;target&gt;]</c> at its
    /// (single) <c>/p2p-circuit</c>: <paramref name="relayAddress"/> is everything before it (ending with the relay's
    /// <c>/p2p/</c>), <paramref name="target"/> the peer after it, or null when the address ends at <c>/p2p-circuit</c>.
    /// False for an address that is not relayed, whose relay part does not end with <c>/p2p/</c>, that has anything but
    /// one <c>/p2p/</c> after the circuit, or that has more than one <c>/p2p-circuit</c>.
    /// </summary>
    public bool TryGetRelay([MaybeNullWhen(false)] out Multiaddr relayAddress, [MaybeNullWhen(false)] out PeerId relayId, out PeerId? target)
    {
        relayAddress = null;
        relayId = null;
        target = null;
        int circuit = Array.FindIndex(_components, c => c.Protocol == MultiaddrProtocol.P2pCircuit);
        if (circuit <= 0 || _components[circuit - 1].Protocol != MultiaddrProtocol.P2p)
            return false;
        var after = _components.AsSpan(circuit + 1);
        if (after.Length > 1 || (after.Length == 1 && after[0].Protocol != MultiaddrProtocol.P2p))
            return false;
        relayId = Identity.PeerId.FromMultihash(_components[circuit - 1].Value.Span);
        target = after.Length == 1 ? Identity.PeerId.FromMultihash(after[0].Value.Span) : null;
        relayAddress = new Multiaddr(_components[..circuit]);
        return true;
    }

    public static Multiaddr Create(params ReadOnlySpan<MultiaddrComponent> components) => new(components.ToArray());

    public static Multiaddr FromEndPoint(IPEndPoint endPoint, PeerId? peerId = null)
    {
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var port = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(port, (ushort)endPoint.Port);
        var list = new List<MultiaddrComponent>(3)
        {
            new(address.AddressFamily == AddressFamily.InterNetwork ? MultiaddrProtocol.Ip4 : MultiaddrProtocol.Ip6, address.GetAddressBytes()),
            new(MultiaddrProtocol.Tcp, port),
        };
        if (peerId is not null)
            list.Add(new(MultiaddrProtocol.P2p, peerId.ToMultihash()));
        return new Multiaddr([.. list]);
    }

    public Multiaddr WithPeerId(PeerId peerId)
    {
        var without = WithoutPeerId();
        return new Multiaddr([.. without._components, new MultiaddrComponent(MultiaddrProtocol.P2p, peerId.ToMultihash())]);
    }

    public Multiaddr WithoutPeerId()
    {
        if (_components.Length == 0 || _components[^1].Protocol != MultiaddrProtocol.P2p)
            return this;
        return new Multiaddr(_components[..^1]);
    }

    /// <summary>
    /// Host and port of an <c>/ip4|ip6|dns*/…/tcp/…</c> address. False for a relayed address: its host and port are
    /// the relay's, not the peer's.
    /// </summary>
    public bool TryGetTcpTarget(out string host, out int port)
    {
        host = "";
        port = 0;
        if (IsRelayed || _components.Length < 2 || _components[1].Protocol != MultiaddrProtocol.Tcp)
            return false;
        var first = _components[0];
        if (first.Protocol is not (MultiaddrProtocol.Ip4 or MultiaddrProtocol.Ip6 or MultiaddrProtocol.Dns or MultiaddrProtocol.Dns4 or MultiaddrProtocol.Dns6))
            return false;
        host = first.ValueText;
        port = BinaryPrimitives.ReadUInt16BigEndian(_components[1].Value.Span);
        return true;
    }

    public static Multiaddr Parse(string text) =>
        TryParse(text, out var result, out string? error) ? result : throw new FormatException($"Invalid multiaddr '{text}': {error}");

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Multiaddr? result, out string? error)
    {
        result = null;
        if (string.IsNullOrEmpty(text) || text[0] != '/')
        {
            error = "a multiaddr starts with '/', e.g. /ip4/192.0.2.1/tcp/9000";
            return false;
        }
        var parts = text.Split('/');
        if (parts[^1].Length == 0)
            parts = parts[..^1]; // tolerate one trailing slash
        var components = new List<MultiaddrComponent>();
        for (int i = 1; i < parts.Length; i++)
        {
            string name = parts[i];
            if (!TryCodeOf(name, out var protocol))
            {
                error = $"unknown protocol '{name}'";
                return false;
            }
            if (!HasValue(protocol))
            {
                components.Add(new MultiaddrComponent(protocol, ReadOnlyMemory<byte>.Empty));
                continue;
            }
            if (i + 1 >= parts.Length)
            {
                error = $"'/{name}' needs a value";
                return false;
            }
            string value = parts[++i];
            if (!TryEncodeValue(protocol, value, out var bytes, out error))
                return false;
            components.Add(new MultiaddrComponent(protocol, bytes));
        }
        if (components.Count == 0)
        {
            error = "empty multiaddr";
            return false;
        }
        result = new Multiaddr([.. components]);
        error = null;
        return true;
    }

    public static Multiaddr FromBytes(ReadOnlySpan<byte> bytes) =>
        TryDecode(bytes, out var result, out string? error) ? result : throw new FormatException($"Invalid binary multiaddr: {error}");

    public static bool TryDecode(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Multiaddr? result, out string? error)
    {
        result = null;
        if (bytes.IsEmpty || bytes.Length > MaxBinaryLength)
        {
            error = bytes.IsEmpty ? "empty" : "too long";
            return false;
        }
        var components = new List<MultiaddrComponent>();
        while (!bytes.IsEmpty)
        {
            if (Varint.TryRead(bytes, out ulong code, out int used) != OperationStatus.Done)
            {
                error = "bad protocol code varint";
                return false;
            }
            bytes = bytes[used..];
            if (code > int.MaxValue || !Enum.IsDefined((MultiaddrProtocol)(int)code))
            {
                error = $"unknown protocol code {code}";
                return false;
            }
            var protocol = (MultiaddrProtocol)(int)code;
            int size = FixedSize(protocol);
            if (size < 0)
            {
                if (Varint.TryRead(bytes, out ulong len, out used) != OperationStatus.Done || len > (ulong)(bytes.Length - used))
                {
                    error = $"bad length for /{NameOf(protocol)}";
                    return false;
                }
                bytes = bytes[used..];
                size = (int)len;
            }
            if (bytes.Length < size)
            {
                error = $"truncated /{NameOf(protocol)}";
                return false;
            }
            var value = bytes[..size].ToArray();
            if (!IsValidBinaryValue(protocol, value))
            {
                error = $"invalid value for /{NameOf(protocol)}";
                return false;
            }
            components.Add(new MultiaddrComponent(protocol, value));
            bytes = bytes[size..];
        }
        result = new Multiaddr([.. components]);
        error = null;
        return true;
    }

    public byte[] ToBytes()
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        foreach (var c in _components)
        {
            var span = buffer.GetSpan(Varint.MaxLength * 2 + c.Value.Length);
            int n = Varint.Write(span, (ulong)c.Protocol);
            if (FixedSize(c.Protocol) < 0)
                n += Varint.Write(span[n..], (ulong)c.Value.Length);
            c.Value.Span.CopyTo(span[n..]);
            buffer.Advance(n + c.Value.Length);
        }
        return buffer.WrittenSpan.ToArray();
    }

    public override string ToString() => string.Concat(_components.Select(c => c.ToString()));

    public bool Equals(Multiaddr? other) => other is not null && ToBytes().AsSpan().SequenceEqual(other.ToBytes());

    public override bool Equals(object? obj) => obj is Multiaddr other && Equals(other);

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    internal static string NameOf(MultiaddrProtocol protocol) => protocol switch
    {
        MultiaddrProtocol.Ip4 => "ip4",
        MultiaddrProtocol.Ip6 => "ip6",
        MultiaddrProtocol.Tcp => "tcp",
        MultiaddrProtocol.Udp => "udp",
        MultiaddrProtocol.Dns => "dns",
        MultiaddrProtocol.Dns4 => "dns4",
        MultiaddrProtocol.Dns6 => "dns6",
        MultiaddrProtocol.DnsAddr => "dnsaddr",
        MultiaddrProtocol.P2p => "p2p",
        MultiaddrProtocol.P2pCircuit => "p2p-circuit",
        _ => ((int)protocol).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static bool TryCodeOf(string name, out MultiaddrProtocol protocol)
    {
        protocol = name switch
        {
            "ip4" => MultiaddrProtocol.Ip4,
            "ip6" => MultiaddrProtocol.Ip6,
            "tcp" => MultiaddrProtocol.Tcp,
            "udp" => MultiaddrProtocol.Udp,
            "dns" => MultiaddrProtocol.Dns,
            "dns4" => MultiaddrProtocol.Dns4,
            "dns6" => MultiaddrProtocol.Dns6,
            "dnsaddr" => MultiaddrProtocol.DnsAddr,
            "p2p" or "ipfs" => MultiaddrProtocol.P2p,
            "p2p-circuit" => MultiaddrProtocol.P2pCircuit,
            _ => 0,
        };
        return protocol != 0;
    }

    private static int FixedSize(MultiaddrProtocol protocol) => protocol switch
    {
        MultiaddrProtocol.Ip4 => 4,
        MultiaddrProtocol.Ip6 => 16,
        MultiaddrProtocol.Tcp or MultiaddrProtocol.Udp => 2,
        MultiaddrProtocol.P2pCircuit => 0,
        _ => -1,
    };

    /// <summary>False for the protocols written without a value (<c>/p2p-circuit</c>).</summary>
    internal static bool HasValue(MultiaddrProtocol protocol) => FixedSize(protocol) != 0;

    private static bool IsValidBinaryValue(MultiaddrProtocol protocol, byte[] value) => protocol switch
    {
        MultiaddrProtocol.P2p => Identity.PeerId.TryFromMultihash(value, out _),
        MultiaddrProtocol.Dns or MultiaddrProtocol.Dns4 or MultiaddrProtocol.Dns6 or MultiaddrProtocol.DnsAddr => IsValidDnsName(value),
        _ => true,
    };

    private static bool IsValidDnsName(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || value.Length > 253)
            return false;
        foreach (byte b in value)
            if (!(b is >= (byte)'a' and <= (byte)'z' || b is >= (byte)'A' and <= (byte)'Z' || b is >= (byte)'0' and <= (byte)'9' || b is (byte)'-' or (byte)'.' or (byte)'_'))
                return false;
        return true;
    }

    private static bool TryEncodeValue(MultiaddrProtocol protocol, string value, out byte[] bytes, out string? error)
    {
        bytes = [];
        error = null;
        switch (protocol)
        {
            case MultiaddrProtocol.Ip4:
                if (!IPAddress.TryParse(value, out var ip4) || ip4.AddressFamily != AddressFamily.InterNetwork || value.Count(c => c == '.') != 3)
                {
                    error = $"'{value}' is not an IPv4 address";
                    return false;
                }
                bytes = ip4.GetAddressBytes();
                return true;
            case MultiaddrProtocol.Ip6:
                if (!IPAddress.TryParse(value, out var ip6) || ip6.AddressFamily != AddressFamily.InterNetworkV6 || value.Contains('%'))
                {
                    error = $"'{value}' is not an IPv6 address";
                    return false;
                }
                bytes = ip6.GetAddressBytes();
                return true;
            case MultiaddrProtocol.Tcp:
            case MultiaddrProtocol.Udp:
                if (!ushort.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort port))
                {
                    error = $"'{value}' is not a port number (0-65535)";
                    return false;
                }
                bytes = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(bytes, port);
                return true;
            case MultiaddrProtocol.P2p:
                if (!Identity.PeerId.TryParse(value, out var peer))
                {
                    error = $"'{value}' is not a peer id";
                    return false;
                }
                bytes = peer.ToMultihash();
                return true;
            default:
                bytes = Encoding.UTF8.GetBytes(value);
                if (!IsValidDnsName(bytes))
                {
                    error = $"'{value}' is not a DNS name";
                    return false;
                }
                return true;
        }
    }
}

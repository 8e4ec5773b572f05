using System.Text;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net;
using PeerCompute.Net.Protocols;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The identify protobuf a peer sends: Decode gives a message or <see cref="Libp2pProtocolException"/>, and a decoded
/// message re-encodes to bytes that decode to the same fields. Input: the message.
/// </summary>
public sealed class IdentifyTarget : FuzzTarget
{
    public override string Name => "identify";
    public override string Description => "IdentifyMessage.Decode/Encode";

    public override void Run(ReadOnlySpan<byte> input)
    {
        IdentifyMessage message;
        try
        {
            message = IdentifyMessage.Decode(input);
        }
        catch (Libp2pProtocolException)
        {
            return;
        }
        Check(message.ListenAddresses.Count <= IdentifyMessage.MaxSize && message.Protocols.All(p => p is not null), "a decoded message breaks a limit");
        var again = IdentifyMessage.Decode(message.Encode());
        Check(again.ListenAddresses.SequenceEqual(message.ListenAddresses) && again.Protocols.SequenceEqual(message.Protocols)
            && Equals(again.ObservedAddress, message.ObservedAddress) && again.ProtocolVersion == message.ProtocolVersion && again.AgentVersion == message.AgentVersion
            && (again.PublicKey ?? []).AsSpan().SequenceEqual(message.PublicKey ?? []), "identify round trip changed a field");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var key = Convert.FromHexString("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
        yield return ("full", new IdentifyMessage(key, [Multiaddr.Parse("/ip4/192.0.2.1/tcp/9000"), Multiaddr.Parse("/ip6/::1/tcp/9000")],
            ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/peercompute/1.0.0"], Multiaddr.Parse("/ip4/198.51.100.7/tcp/51000"), "ipfs/0.1.0", "peercompute/0.1.0").Encode());
        yield return ("empty", []);
        yield return ("bad-address-skipped", [0x12, 0x03, 0x04, 0x01, 0x02, 0x1a, 0x02, (byte)'/', (byte)'x']);
        yield return ("bad-utf8", [0x2a, 0x02, 0xc3, 0x28]);
    }
}

/// <summary>
/// The Host header of a public HTTPS request, as the gateway maps it to a tunnel route: TryGetLabel never throws,
/// and a label it accepts splits into a valid name and tag that put together give the same label.
/// Input: byte 0 picks the gateway domain, then the Host header (UTF-8).
/// </summary>
public sealed class HostnameTarget : FuzzTarget
{
    private static readonly string[] Domains = ["tunnel.example", "example", "a.b.c.example"];

    public override string Name => "hostname";
    public override string Description => "TunnelHostname.TryGetLabel (public Host headers), TryParseLabel, NormalizeDomain";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        string domain = Domains[input[0] % Domains.Length];
        string host = Encoding.UTF8.GetString(input[1..]);
        if (TunnelHostname.TryGetLabel(host, domain, out string label))
        {
            Check(TunnelHostname.TryParseLabel(label, out string name, out string tag), $"accepted label '{label}' does not split");
            Check(TunnelHostname.LabelFor(name, tag) == label, $"label '{label}' does not rebuild from its parts");
            // The host named exactly that label under the domain, up to ASCII case, a port and a final dot.
            string bare = host;
            int colon = bare.LastIndexOf(':');
            if (colon >= 0)
                bare = bare[..colon];
            bare = bare.TrimEnd('.');
            Check(bare.All(char.IsAscii) && string.Equals(bare, label + "." + domain, StringComparison.OrdinalIgnoreCase), $"host '{host}' was taken for label '{label}'");
        }
        try
        {
            string normal = TunnelHostname.NormalizeDomain(host);
            Check(TunnelHostname.NormalizeDomain(normal) == normal, $"domain '{normal}' is not stable under normalisation");
        }
        catch (ArgumentException)
        {
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("plain", [0, .. "web-abcdefghijkl.tunnel.example"u8]);
        yield return ("port-upper-dot", [0, .. "WEB-abcdefghijkl.Tunnel.Example.:8443"u8]);
        yield return ("two-labels", [1, .. "a.web-abcdefghijkl.example"u8]);
        yield return ("ip-literal", [2, .. "[::1]:443"u8]);
        yield return ("no-tag", [0, .. "web.tunnel.example"u8]);
    }
}

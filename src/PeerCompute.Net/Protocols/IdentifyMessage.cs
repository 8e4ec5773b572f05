using System.Text;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Protobuf;

namespace PeerCompute.Net.Protocols;

/// <summary>
/// The identify protobuf: 1 publicKey, 2 listenAddrs (repeated, binary multiaddrs), 3 protocols (repeated),
/// 4 observedAddr, 5 protocolVersion, 6 agentVersion (8 signedPeerRecord is not produced and is ignored).
/// Addresses that do not parse are skipped rather than failing the whole message.
/// </summary>
public sealed record IdentifyMessage(
    byte[]? PublicKey,
    IReadOnlyList<Multiaddr> ListenAddresses,
    IReadOnlyList<string> Protocols,
    Multiaddr? ObservedAddress,
    string? ProtocolVersion,
    string? AgentVersion)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>js-libp2p refuses identify messages over 8 KiB; so do we.</summary>
    public const int MaxSize = 8 * 1024;

    public byte[] Encode()
    {
        var output = new ProtobufWriter(512);
        if (PublicKey is not null)
            output.WriteBytes(1, PublicKey);
        foreach (var address in ListenAddresses)
            output.WriteBytes(2, address.ToBytes());
        foreach (var protocol in Protocols)
            output.WriteString(3, protocol);
        if (ObservedAddress is not null)
            output.WriteBytes(4, ObservedAddress.ToBytes());
        if (ProtocolVersion is not null)
            output.WriteString(5, ProtocolVersion);
        if (AgentVersion is not null)
            output.WriteString(6, AgentVersion);
        return output.ToArray();
    }

    public static IdentifyMessage Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxSize)
            throw new Libp2pProtocolException($"identify: message of {bytes.Length} bytes is over {MaxSize}");
        byte[]? publicKey = null;
        var listen = new List<Multiaddr>();
        var protocols = new List<string>();
        Multiaddr? observed = null;
        string? protocolVersion = null, agentVersion = null;
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadField(out int field, out int wireType, out var value))
        {
            if (wireType != 2)
                continue;
            switch (field)
            {
                case 1: publicKey = value.ToArray(); break;
                case 2:
                    if (Multiaddr.TryDecode(value, out var address, out _))
                        listen.Add(address);
                    break;
                case 3: protocols.Add(Text(value)); break;
                case 4:
                    if (Multiaddr.TryDecode(value, out var seen, out _))
                        observed = seen;
                    break;
                case 5: protocolVersion = Text(value); break;
                case 6: agentVersion = Text(value); break;
            }
        }
        return new IdentifyMessage(publicKey, listen, protocols, observed, protocolVersion, agentVersion);
    }

    private static string Text(ReadOnlySpan<byte> value)
    {
        try
        {
            return StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException)
        {
            throw new Libp2pProtocolException("identify: a text field is not UTF-8");
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Tunnel.Protocol;

// The messages of the tunnel handshake; the sequence, the constants and the version rule are in TunnelHandshake.
// Each parser takes the payload of one TunnelFrame and ignores bytes after the fields it knows (room to extend).

/// <summary>The first message: proves the peer speaks this protocol and brings the provider's random value.</summary>
internal sealed record ClientHello(byte Version, byte[] ClientNonce)
{
    public byte[] Encode() => new PayloadWriter().Bytes(TunnelHandshake.Magic).Byte(Version).Bytes(ClientNonce).ToFrame(TunnelMessageType.ClientHello);

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out ClientHello? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryBytes(TunnelHandshake.Magic.Length, out var magic) || !magic.SequenceEqual(TunnelHandshake.Magic)
            || !cursor.TryByte(out byte version) || !cursor.TryBytes(TunnelHandshake.NonceLength, out var nonce))
            return false;
        message = new ClientHello(version, nonce.ToArray());
        return true;
    }
}

/// <summary>The gateway's fresh random value and what the provider needs to build its public URLs.</summary>
internal sealed record Challenge(byte Version, byte[] ServerNonce, string Domain, ushort HttpsPort)
{
    public byte[] Encode() => new PayloadWriter().Byte(Version).Bytes(ServerNonce).ShortString(Domain).UInt16(HttpsPort).ToFrame(TunnelMessageType.Challenge);

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Challenge? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryByte(out byte version) || !cursor.TryBytes(TunnelHandshake.NonceLength, out var nonce)
            || !cursor.TryShortString(out string domain) || domain.Length == 0 || !cursor.TryUInt16(out ushort port) || port == 0)
            return false;
        message = new Challenge(version, nonce.ToArray(), domain, port);
        return true;
    }
}

/// <summary>The provider's identity and its signature over the <see cref="AuthTranscript"/>.</summary>
internal sealed record AuthResponse(byte[] PublicKeyProtobuf, byte[] Signature)
{
    public byte[] Encode()
    {
        if (PublicKeyProtobuf.Length > byte.MaxValue)
            throw new ArgumentException("public key too long");
        return new PayloadWriter().Byte((byte)PublicKeyProtobuf.Length).Bytes(PublicKeyProtobuf).Bytes(Signature).ToFrame(TunnelMessageType.Auth);
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out AuthResponse? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryByte(out byte keyLength) || !cursor.TryBytes(keyLength, out var key)
            || !cursor.TryBytes(PeerIdentity.SignatureLength, out var signature))
            return false;
        message = new AuthResponse(key.ToArray(), signature.ToArray());
        return true;
    }
}

/// <summary>
/// The gateway's libp2p relay (circuit relay v2), offered from tunnel protocol version 2 on: its PeerId, its port on the
/// tunnel's host, and the addresses it announces (none: reach it at the host the provider dialled, on <see cref="Port"/>).
/// </summary>
public sealed record RelayOffer(PeerId PeerId, ushort Port, IReadOnlyList<Multiaddr> Addresses)
{
    public const int MaxAddresses = 8;

    /// <summary>Where the provider reserves: the announced addresses, or <paramref name="gatewayHost"/> on <see cref="Port"/>.</summary>
    public IReadOnlyList<Multiaddr> AddressesFor(string gatewayHost)
    {
        if (Addresses.Count > 0)
            return [.. Addresses.Select(a => a.WithPeerId(PeerId))];
        string host = gatewayHost.Trim('[', ']');
        string protocol = System.Net.IPAddress.TryParse(host, out var ip)
            ? ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ip6" : "ip4"
            : "dns";
        return Multiaddr.TryParse($"/{protocol}/{host}/tcp/{Port}/p2p/{PeerId}", out var address, out _) ? [address] : [];
    }
}

/// <summary>
/// The provider is in: its tag (the gateway's view, which the provider checks against its own) and limits; from version 2
/// on, when the gateway runs a relay, a flag byte 1 and the gateway's <see cref="RelayOffer"/>:
/// <c>peer id multihash (u8 len) | port u16 | address count u8 | each binary multiaddr (u16 len)</c>.
/// </summary>
internal sealed record Welcome(string Tag, ushort MaxRoutes, RelayOffer? Relay = null)
{
    public byte[] Encode()
    {
        var writer = new PayloadWriter().ShortString(Tag).UInt16(MaxRoutes);
        if (Relay is { } relay)
        {
            byte[] id = relay.PeerId.ToMultihash();
            writer.Byte(1).Byte((byte)id.Length).Bytes(id).UInt16(relay.Port).Byte((byte)Math.Min(relay.Addresses.Count, RelayOffer.MaxAddresses));
            foreach (var address in relay.Addresses.Take(RelayOffer.MaxAddresses))
            {
                byte[] bytes = address.ToBytes();
                writer.UInt16((ushort)bytes.Length).Bytes(bytes);
            }
        }
        return writer.ToFrame(TunnelMessageType.Welcome);
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Welcome? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryShortString(out string tag) || !cursor.TryUInt16(out ushort maxRoutes))
            return false;
        if (cursor.IsEmpty)
        {
            message = new Welcome(tag, maxRoutes); // a version 1 gateway: no relay field
            return true;
        }
        // Only flag 1 is defined; a later version's other values are bytes this one ignores.
        if (!cursor.TryByte(out byte hasRelay) || hasRelay != 1)
        {
            message = new Welcome(tag, maxRoutes);
            return true;
        }
        if (!cursor.TryByte(out byte idLength) || !cursor.TryBytes(idLength, out var id) || !PeerId.TryFromMultihash(id, out var relayId)
            || !cursor.TryUInt16(out ushort port) || port == 0 || !cursor.TryByte(out byte count) || count > RelayOffer.MaxAddresses)
            return false;
        var addresses = new List<Multiaddr>(count);
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryUInt16(out ushort length) || !cursor.TryBytes(length, out var bytes) || !Multiaddr.TryDecode(bytes, out var address, out _))
                return false;
            addresses.Add(address);
        }
        message = new Welcome(tag, maxRoutes, new RelayOffer(relayId, port, addresses));
        return true;
    }
}

/// <summary>Why the gateway turned a provider away.</summary>
internal enum RefusalCode : byte
{
    Protocol = 1,
    UnsupportedVersion = 2,
    BadSignature = 3,
    Untrusted = 4,
    TagTaken = 5,
    Busy = 6,
    ShuttingDown = 7,
}

/// <summary>The gateway refuses the provider; the reason is meant for the provider's log.</summary>
internal sealed record Refused(RefusalCode Code, string Reason)
{
    public byte[] Encode() => new PayloadWriter().Byte((byte)Code).LongString(Reason).ToFrame(TunnelMessageType.Refused);

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Refused? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryByte(out byte code) || !cursor.TryLongString(out string reason))
            return false;
        message = new Refused((RefusalCode)code, reason);
        return true;
    }
}

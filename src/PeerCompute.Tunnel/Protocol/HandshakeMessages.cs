using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Identity;

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

/// <summary>The provider is in: its tag (the gateway's view, which the provider checks against its own) and limits.</summary>
internal sealed record Welcome(string Tag, ushort MaxRoutes)
{
    public byte[] Encode() => new PayloadWriter().ShortString(Tag).UInt16(MaxRoutes).ToFrame(TunnelMessageType.Welcome);

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Welcome? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryShortString(out string tag) || !cursor.TryUInt16(out ushort maxRoutes))
            return false;
        message = new Welcome(tag, maxRoutes);
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

using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Core.Trust;

/// <summary>Why an invite was refused (the reason text says it for a person).</summary>
public enum InviteProblem
{
    None,

    /// <summary>It does not start with <c>pcinvite</c>.</summary>
    NotAnInvite,

    /// <summary><c>pcinviteN.</c> with an N this code does not read.</summary>
    UnsupportedVersion,

    /// <summary>Longer than <see cref="Invite.MaxTextLength"/>.</summary>
    TooLarge,

    /// <summary>Not canonical base64url after the prefix.</summary>
    BadEncoding,

    /// <summary>The payload breaks the layout or a limit.</summary>
    Malformed,

    /// <summary>The signature does not verify with the key the PeerId names.</summary>
    BadSignature,

    /// <summary>Past its expiry.</summary>
    Expired,
}

/// <summary>
/// A one-line, signed invite: a peer's PeerId, optional name and addresses, so the other side adds it with one
/// copy-paste (<c>peerctl peers add pcinvite1.…</c>). Pure and allocation-light; see docs/ARCHITECTURE.md ("Invites").
/// <code>
/// text      = "pcinvite1." ‖ base64url(payload ‖ signature[64])          (no padding, canonical; ≤ 4096 characters)
/// payload   = version u8 (1) ‖ uvarint len ‖ PeerId multihash (an Ed25519 key inlined)
///             ‖ uvarint created ‖ uvarint expires (Unix seconds, expires > created, at most 365 days apart)
///             ‖ uvarint len ‖ name UTF-8 (0: none; else a trust-list name, ≤ 63 bytes)
///             ‖ count u8 (≤ 16) ‖ count × (uvarint len ‖ binary multiaddr, ≤ 256 bytes)
/// signature = Ed25519(identity key, "peercompute-invite:" ‖ payload)
/// </code>
/// Addresses carry no trailing <c>/p2p/</c>: a direct one none at all, a relayed one ends at <c>/p2p-circuit</c>.
/// Every varint is minimal and every address in its canonical binary form, so one invite has one encoding.
/// </summary>
public sealed class Invite
{
    public const string Prefix = "pcinvite";
    public const byte CurrentVersion = 1;
    public const string CurrentPrefix = "pcinvite1.";
    public const int MaxTextLength = 4096;
    public const int MaxAddresses = 16;
    public const int MaxAddressBytes = 256;
    public const int MaxNameBytes = 63;
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(365);

    /// <summary>Domain separation: a signature over an invite can never pass for a request's or a tunnel's.</summary>
    public static ReadOnlySpan<byte> SigningContext => "peercompute-invite:"u8;

    private Invite(PeerId peerId, string? name, IReadOnlyList<Multiaddr> addresses, DateTimeOffset created, DateTimeOffset expires, string text)
    {
        PeerId = peerId;
        Name = name;
        Addresses = addresses;
        Created = created;
        Expires = expires;
        Text = text;
    }

    public PeerId PeerId { get; }

    /// <summary>The name the inviter suggests (null: none).</summary>
    public string? Name { get; }

    /// <summary>Direct and relayed addresses, without the trailing <c>/p2p/</c>.</summary>
    public IReadOnlyList<Multiaddr> Addresses { get; }

    public DateTimeOffset Created { get; }

    public DateTimeOffset Expires { get; }

    /// <summary>The one line to copy.</summary>
    public string Text { get; }

    /// <summary>True when <paramref name="text"/> is meant as an invite (rather than a PeerId): it starts with <c>pcinvite</c>.</summary>
    public static bool LooksLikeInvite(ReadOnlySpan<char> text) => text.TrimStart().StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>
    /// Makes and signs an invite. Addresses may end with <c>/p2p/&lt;identity&gt;</c> (removed); anything else that
    /// breaks the limits or the layout above throws <see cref="ArgumentException"/>.
    /// </summary>
    public static Invite Create(PeerIdentity identity, string? name, IReadOnlyList<Multiaddr> addresses, DateTimeOffset created, TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > MaxLifetime)
            throw new ArgumentException($"An invite lasts more than 0 s and at most {MaxLifetime.TotalDays} days.", nameof(lifetime));
        var own = addresses.Select(a => a.PeerId == identity.PeerId ? a.WithoutPeerId() : a).ToList();
        long createdSeconds = created.ToUnixTimeSeconds();
        var fields = new InviteFields(identity.PeerId, name, own, createdSeconds, createdSeconds + (long)Math.Ceiling(lifetime.TotalSeconds));
        if (CheckFields(fields) is { } problem)
            throw new ArgumentException(problem);
        byte[] payload = EncodePayload(fields);
        var signed = new byte[SigningContext.Length + payload.Length];
        SigningContext.CopyTo(signed);
        payload.CopyTo(signed, SigningContext.Length);
        byte[] body = [.. payload, .. identity.Sign(signed)];
        string text = CurrentPrefix + Base64Url.EncodeToString(body);
        if (text.Length > MaxTextLength)
            throw new ArgumentException($"The invite would be {text.Length} characters, more than {MaxTextLength}: give fewer or shorter addresses.");
        return new Invite(fields.PeerId, name, own, DateTimeOffset.FromUnixTimeSeconds(fields.Created), DateTimeOffset.FromUnixTimeSeconds(fields.Expires), text);
    }

    /// <summary>
    /// Reads and checks an invite: the prefix and version, the size, the encoding, the layout, the signature (by the
    /// key the PeerId names), then the expiry against <paramref name="now"/>. Never throws on any input.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, DateTimeOffset now, [NotNullWhen(true)] out Invite? invite, out InviteProblem problem, [NotNullWhen(false)] out string? reason)
    {
        invite = null;
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
            return Refuse(InviteProblem.NotAnInvite, $"not an invite: an invite starts with '{CurrentPrefix}'", out problem, out reason);
        if (text.Length > MaxTextLength)
            return Refuse(InviteProblem.TooLarge, $"the invite is {text.Length} characters long; at most {MaxTextLength} are accepted", out problem, out reason);
        var rest = text[Prefix.Length..];
        int dot = rest.IndexOf('.');
        if (dot < 0 || !IsVersion(rest[..dot]))
            return Refuse(InviteProblem.NotAnInvite, $"not an invite: an invite starts with '{CurrentPrefix}'", out problem, out reason);
        if (!rest[..dot].SequenceEqual("1"))
            return Refuse(InviteProblem.UnsupportedVersion, $"this is a version {rest[..dot]} invite ('{Prefix}{rest[..dot]}.'); this program reads version {CurrentVersion}: update it, or ask for an invite it reads", out problem, out reason);
        var encoded = rest[(dot + 1)..];

        if (!TryDecodeBase64Url(encoded, out byte[]? body))
            return Refuse(InviteProblem.BadEncoding, "the invite is damaged: the part after 'pcinvite1.' is not base64url (was it cut or changed while copying?)", out problem, out reason);
        if (body.Length <= PeerIdentity.SignatureLength)
            return Refuse(InviteProblem.Malformed, "the invite is damaged: it is too short to hold a signature", out problem, out reason);
        var payload = body.AsSpan(0, body.Length - PeerIdentity.SignatureLength);
        var signature = body.AsSpan(body.Length - PeerIdentity.SignatureLength);
        if (!TryDecodePayload(payload, out var fields, out string? why))
            return Refuse(InviteProblem.Malformed, $"the invite is damaged: {why}", out problem, out reason);

        byte[] signed = new byte[SigningContext.Length + payload.Length];
        SigningContext.CopyTo(signed);
        payload.CopyTo(signed.AsSpan(SigningContext.Length));
        if (!PeerIdentity.Verify(fields.PeerId, signed, signature))
            return Refuse(InviteProblem.BadSignature, "the invite's signature does not match its content: it was changed after it was made (or damaged while copying); ask for a new one", out problem, out reason);

        var expires = DateTimeOffset.FromUnixTimeSeconds(fields.Expires);
        if (now >= expires)
            return Refuse(InviteProblem.Expired, $"the invite from {fields.Name ?? fields.PeerId.ToString()} expired at {expires.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC; ask for a new one", out problem, out reason);

        invite = new Invite(fields.PeerId, fields.Name, fields.Addresses, DateTimeOffset.FromUnixTimeSeconds(fields.Created), expires, text.ToString());
        problem = InviteProblem.None;
        reason = null;
        return true;
    }

    /// <summary>The unsigned payload's layout (the fuzz target reaches it without a signature).</summary>
    internal static bool TryDecodePayload(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out InviteFields? fields, [NotNullWhen(false)] out string? reason)
    {
        fields = null;
        if (payload.IsEmpty || payload[0] != CurrentVersion)
            return Fail($"its payload is version {(payload.IsEmpty ? "none" : payload[0])}, not {CurrentVersion}", out reason);
        var rest = payload[1..];
        if (!TryReadBytes(ref rest, 64, out var multihash) || !PeerId.TryFromMultihash(multihash, out var peerId))
            return Fail("no valid PeerId", out reason);
        if (!peerId.TryGetEd25519PublicKey(out _))
            return Fail($"{peerId} is not an Ed25519 PeerId with its key inlined, so nothing can check its signature", out reason);
        if (!TryReadNumber(ref rest, out ulong created) || !TryReadNumber(ref rest, out ulong expires))
            return Fail("no valid creation or expiry time", out reason);
        if (!TryReadBytes(ref rest, MaxNameBytes, out var nameBytes))
            return Fail($"its name is missing or longer than {MaxNameBytes} bytes", out reason);
        string? name = null;
        if (!nameBytes.IsEmpty)
        {
            if (!TryUtf8(nameBytes, out name))
                return Fail("its name is not UTF-8", out reason);
        }
        if (rest.IsEmpty)
            return Fail("no address count", out reason);
        int count = rest[0];
        rest = rest[1..];
        if (count > MaxAddresses)
            return Fail($"it holds {count} addresses; at most {MaxAddresses} are accepted", out reason);
        var addresses = new List<Multiaddr>(count);
        for (int i = 0; i < count; i++)
        {
            if (!TryReadBytes(ref rest, MaxAddressBytes, out var bytes))
                return Fail($"address {i + 1} is cut short or longer than {MaxAddressBytes} bytes", out reason);
            if (!Multiaddr.TryDecode(bytes, out var address, out string? error))
                return Fail($"address {i + 1} is not a multiaddr ({error})", out reason);
            if (!address.ToBytes().AsSpan().SequenceEqual(bytes))
                return Fail($"address {i + 1} is not in its canonical form", out reason);
            addresses.Add(address);
        }
        if (!rest.IsEmpty)
            return Fail($"{rest.Length} bytes follow the last address", out reason);
        if (created > long.MaxValue || expires > long.MaxValue)
            return Fail("its times are out of range", out reason);
        var result = new InviteFields(peerId, name, addresses, (long)created, (long)expires);
        if (CheckFields(result) is { } problem)
            return Fail(problem, out reason);
        fields = result;
        reason = null;
        return true;
    }

    /// <summary>The payload bytes for <paramref name="fields"/> (which <see cref="CheckFields"/> accepted).</summary>
    internal static byte[] EncodePayload(InviteFields fields)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write([CurrentVersion]);
        WriteBytes(buffer, fields.PeerId.Multihash);
        WriteNumber(buffer, (ulong)fields.Created);
        WriteNumber(buffer, (ulong)fields.Expires);
        WriteBytes(buffer, fields.Name is null ? [] : Encoding.UTF8.GetBytes(fields.Name));
        buffer.Write([(byte)fields.Addresses.Count]);
        foreach (var address in fields.Addresses)
            WriteBytes(buffer, address.ToBytes());
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Null when the fields keep every rule of the layout; else what breaks one.</summary>
    internal static string? CheckFields(InviteFields fields)
    {
        if (!fields.PeerId.TryGetEd25519PublicKey(out _))
            return $"{fields.PeerId} is not an Ed25519 PeerId with its key inlined";
        if (fields.Created < 0 || fields.Expires <= fields.Created)
            return "it expires before it was made";
        if (fields.Expires - fields.Created > (long)MaxLifetime.TotalSeconds)
            return $"it lasts longer than {MaxLifetime.TotalDays} days";
        if (fields.Expires > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
            return "its expiry is out of range";
        if (fields.Name is { } name && !TrustStore.IsValidName(name))
            return $"its name is not a valid name (1-{MaxNameBytes} letters, digits, '-', '_' or '.', starting with a letter or digit)";
        if (fields.Addresses.Count > MaxAddresses)
            return $"it holds {fields.Addresses.Count} addresses; at most {MaxAddresses} are accepted";
        foreach (var address in fields.Addresses)
        {
            if (address.ToBytes().Length > MaxAddressBytes)
                return $"the address {address} is longer than {MaxAddressBytes} bytes";
            if (address.IsRelayed)
            {
                // <relay address>/p2p/<relay>/p2p-circuit: the invite's own PeerId is implied after it.
                if (!address.TryGetRelay(out _, out var relayId, out var target) || target is not null)
                    return $"the relayed address {address} does not end with /p2p/<relay id>/p2p-circuit";
                if (relayId == fields.PeerId)
                    return $"the relayed address {address} names {fields.PeerId} as its own relay";
            }
            else if (address.Components.Any(c => c.Protocol == MultiaddrProtocol.P2p))
            {
                return $"the address {address} names a peer; an invite's direct addresses name none";
            }
        }
        return null;
    }

    private static bool IsVersion(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > 4)
            return false;
        foreach (char c in text)
            if (c is < '0' or > '9')
                return false;
        return true;
    }

    /// <summary>Canonical base64url only (no padding, no whitespace, no stray low bits): one invite has one text.</summary>
    private static bool TryDecodeBase64Url(ReadOnlySpan<char> encoded, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        foreach (char c in encoded)
        {
            if (c is not ((>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
                return false;
        }
        if (encoded.Length % 4 == 1)
            return false;
        var buffer = new byte[Base64Url.GetMaxDecodedLength(encoded.Length)];
        if (Base64Url.DecodeFromChars(encoded, buffer, out int consumed, out int written) != OperationStatus.Done || consumed != encoded.Length)
            return false;
        bytes = buffer.AsSpan(0, written).ToArray();
        return Base64Url.EncodeToString(bytes).AsSpan().SequenceEqual(encoded);
    }

    private static bool TryUtf8(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out string? text)
    {
        text = null;
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            return false;
        text = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static bool TryReadNumber(ref ReadOnlySpan<byte> input, out ulong value)
    {
        if (Varint.TryRead(input, out value, out int used) != OperationStatus.Done)
            return false;
        input = input[used..];
        return true;
    }

    private static bool TryReadBytes(ref ReadOnlySpan<byte> input, int max, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryReadNumber(ref input, out ulong length) || length > (ulong)max || length > (ulong)input.Length)
            return false;
        bytes = input[..(int)length];
        input = input[(int)length..];
        return true;
    }

    private static void WriteNumber(ArrayBufferWriter<byte> buffer, ulong value)
    {
        int written = Varint.Write(buffer.GetSpan(Varint.MaxLength), value);
        buffer.Advance(written);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes)
    {
        WriteNumber(buffer, (ulong)bytes.Length);
        buffer.Write(bytes);
    }

    private static bool Refuse(InviteProblem kind, string why, out InviteProblem problem, out string reason)
    {
        problem = kind;
        reason = why;
        return false;
    }

    private static bool Fail(string why, out string reason)
    {
        reason = why;
        return false;
    }
}

/// <summary>An invite's payload fields, before signing or after reading (times in Unix seconds).</summary>
internal sealed record InviteFields(PeerId PeerId, string? Name, IReadOnlyList<Multiaddr> Addresses, long Created, long Expires);

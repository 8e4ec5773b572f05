using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;

namespace PeerCompute.Tunnel.Protocol;

// The control stream is the first yamux stream the provider opens. Provider -> gateway: SetRoutes (the whole set
// of hostname labels it serves, replacing the previous set); gateway -> provider: RoutesResult (one line per label).

/// <summary>
/// The hostname labels (<c>name-tag</c>) the provider serves now. From tunnel protocol version 3 on
/// (<see cref="TunnelHandshake.AccessControlVersion"/>), an access section may follow the labels, one entry per label in
/// the same order: <c>count u16 | each: mode u8 | owner peer id multihash (u8 len, 0 for none) | basic user (u8 len) | basic password hash (u8 len)</c>.
/// Without it every label is public (what a provider before version 3 sends). A gateway before version 3 ignores the
/// section, so the provider never announces a non-public route to one (see <see cref="Client.RouteAnnouncer"/>).
/// </summary>
internal sealed record SetRoutes(IReadOnlyList<string> Labels, IReadOnlyList<RouteAccess>? Access = null)
{
    public byte[] Encode()
    {
        if (Access is not null && Access.Count != Labels.Count)
            throw new ArgumentException("one access entry per label");
        var writer = new PayloadWriter().UInt16(checked((ushort)Labels.Count));
        foreach (string label in Labels)
            writer.ShortString(label);
        if (Access is not null)
        {
            writer.UInt16((ushort)Access.Count);
            foreach (var access in Access)
            {
                byte[] owner = access.Owner?.ToMultihash() ?? [];
                writer.Byte((byte)access.Mode).Byte(checked((byte)owner.Length)).Bytes(owner)
                    .ShortString(access.BasicUser ?? "").ShortString(access.BasicPasswordHash ?? "");
            }
        }
        return writer.ToFrame(TunnelMessageType.SetRoutes);
    }

    /// <summary>The access rule of the label at <paramref name="index"/>: public when the message has no access section.</summary>
    public RouteAccess AccessAt(int index) => Access is null ? RouteAccess.Public : Access[index];

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out SetRoutes? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryUInt16(out ushort count))
            return false;
        var labels = new List<string>(Math.Min((int)count, 1024));
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryShortString(out string label))
                return false;
            labels.Add(label);
        }
        if (cursor.IsEmpty)
        {
            message = new SetRoutes(labels);
            return true;
        }
        if (!cursor.TryUInt16(out ushort accessCount) || accessCount != count)
            return false;
        var access = new List<RouteAccess>(labels.Count);
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryByte(out byte mode) || mode > (byte)AccessMode.Basic || !cursor.TryByte(out byte ownerLength) || !cursor.TryBytes(ownerLength, out var ownerBytes)
                || !cursor.TryShortString(out string user) || !cursor.TryShortString(out string hash))
                return false;
            PeerId? owner = null;
            if (ownerLength > 0 && !PeerId.TryFromMultihash(ownerBytes, out owner))
                return false;
            access.Add(new RouteAccess((AccessMode)mode, owner, user.Length == 0 ? null : user, hash.Length == 0 ? null : hash));
        }
        message = new SetRoutes(labels, access);
        return true;
    }
}

/// <summary>The gateway's answer for one label.</summary>
public sealed record RouteResult(string Label, bool Accepted, string Reason);

internal sealed record RoutesResult(IReadOnlyList<RouteResult> Results)
{
    public byte[] Encode()
    {
        var writer = new PayloadWriter().UInt16(checked((ushort)Results.Count));
        foreach (var result in Results)
            writer.ShortString(result.Label).Byte(result.Accepted ? (byte)1 : (byte)0).LongString(result.Reason);
        return writer.ToFrame(TunnelMessageType.RoutesResult);
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out RoutesResult? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryUInt16(out ushort count))
            return false;
        var results = new List<RouteResult>(Math.Min((int)count, 1024));
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryShortString(out string label) || !cursor.TryByte(out byte accepted) || accepted > 1 || !cursor.TryLongString(out string reason))
                return false;
            results.Add(new RouteResult(label, accepted == 1, reason));
        }
        message = new RoutesResult(results);
        return true;
    }
}

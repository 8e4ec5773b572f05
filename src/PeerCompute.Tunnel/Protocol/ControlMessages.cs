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
/// From version 4 on (<see cref="TunnelHandshake.CustomDomainVersion"/>), a custom-domain section may follow the access
/// section (which is then always present): <c>count u16 | each label: domain count u8 | each domain (u8 len)</c>. A gateway
/// before version 4 ignores it and serves only the generated names, so a custom domain is never served unverified.
/// From version 5 on (<see cref="TunnelHandshake.DomainStatusVersion"/>), a released section may follow the domain section
/// (which is then always present): <c>count u16 | each: label (u8 len) | domain (u8 len)</c>, the custom domains the
/// provider gave up (a deployment stopped or removed, a domain taken off it), which the gateway stops holding for that label.
/// </summary>
internal sealed record SetRoutes(IReadOnlyList<string> Labels, IReadOnlyList<RouteAccess>? Access = null, IReadOnlyList<IReadOnlyList<string>>? Domains = null,
    IReadOnlyList<ReleasedDomain>? Released = null)
{
    /// <summary>Custom domains one label may carry.</summary>
    public const int MaxDomainsPerLabel = 8;

    /// <summary>Released domains one message may carry; a provider keeps its most recent ones.</summary>
    public const int MaxReleased = 256;

    public byte[] Encode()
    {
        if (Access is not null && Access.Count != Labels.Count)
            throw new ArgumentException("one access entry per label");
        if (Domains is not null && (Domains.Count != Labels.Count || Domains.Any(d => d.Count > MaxDomainsPerLabel)))
            throw new ArgumentException($"one domain list per label, each of at most {MaxDomainsPerLabel}");
        var writer = new PayloadWriter().UInt16(checked((ushort)Labels.Count));
        foreach (string label in Labels)
            writer.ShortString(label);
        if (Released is { Count: > MaxReleased })
            throw new ArgumentException($"at most {MaxReleased} released domains");
        var domainSection = Domains ?? (Released is { Count: > 0 } ? [.. Labels.Select(_ => (IReadOnlyList<string>)[])] : null);
        var accessSection = Access ?? (domainSection is null ? null : [.. Labels.Select(_ => RouteAccess.Public)]);
        if (accessSection is not null)
        {
            writer.UInt16((ushort)accessSection.Count);
            foreach (var access in accessSection)
            {
                byte[] owner = access.Owner?.ToMultihash() ?? [];
                writer.Byte((byte)access.Mode).Byte(checked((byte)owner.Length)).Bytes(owner)
                    .ShortString(access.BasicUser ?? "").ShortString(access.BasicPasswordHash ?? "");
            }
        }
        if (domainSection is not null)
        {
            writer.UInt16((ushort)domainSection.Count);
            foreach (var domains in domainSection)
            {
                writer.Byte((byte)domains.Count);
                foreach (string domain in domains)
                    writer.ShortString(domain);
            }
        }
        if (Released is { Count: > 0 } released)
        {
            writer.UInt16((ushort)released.Count);
            foreach (var (label, domain) in released)
                writer.ShortString(label).ShortString(domain);
        }
        return writer.ToFrame(TunnelMessageType.SetRoutes);
    }

    /// <summary>The custom domains of the label at <paramref name="index"/>: none when the message has no domain section.</summary>
    public IReadOnlyList<string> DomainsAt(int index) => Domains is null ? [] : Domains[index];

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
        if (cursor.IsEmpty)
        {
            message = new SetRoutes(labels, access);
            return true;
        }
        if (!cursor.TryUInt16(out ushort domainCount) || domainCount != count)
            return false;
        var domainLists = new List<IReadOnlyList<string>>(labels.Count);
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryByte(out byte n) || n > MaxDomainsPerLabel)
                return false;
            var domains = new List<string>(n);
            for (int j = 0; j < n; j++)
            {
                if (!cursor.TryShortString(out string domain))
                    return false;
                domains.Add(domain);
            }
            domainLists.Add(domains);
        }
        if (cursor.IsEmpty)
        {
            message = new SetRoutes(labels, access, domainLists);
            return true;
        }
        if (!cursor.TryUInt16(out ushort releasedCount) || releasedCount > MaxReleased)
            return false;
        var released = new List<ReleasedDomain>(releasedCount);
        for (int i = 0; i < releasedCount; i++)
        {
            if (!cursor.TryShortString(out string label) || !cursor.TryShortString(out string domain))
                return false;
            released.Add(new ReleasedDomain(label, domain));
        }
        message = new SetRoutes(labels, access, domainLists, released);
        return true;
    }
}

/// <summary>A custom domain the provider gave up, with the label that held it.</summary>
public sealed record ReleasedDomain(string Label, string Domain);

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

/// <summary>Provider -> gateway (version 5): where do these custom domains stand? <c>count u16 | each domain (u8 len)</c>.</summary>
internal sealed record QueryDomains(IReadOnlyList<string> Domains)
{
    /// <summary>Domains one query may name: a provider's deployments times their domains, bounded.</summary>
    public const int MaxDomains = 512;

    public byte[] Encode()
    {
        if (Domains.Count > MaxDomains)
            throw new ArgumentException($"at most {MaxDomains} domains per query");
        var writer = new PayloadWriter().UInt16((ushort)Domains.Count);
        foreach (string domain in Domains)
            writer.ShortString(domain);
        return writer.ToFrame(TunnelMessageType.QueryDomains);
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out QueryDomains? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryUInt16(out ushort count) || count > MaxDomains)
            return false;
        var domains = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryShortString(out string domain))
                return false;
            domains.Add(domain);
        }
        message = new QueryDomains(domains);
        return true;
    }
}

/// <summary>
/// Gateway -> provider (version 5): one entry per queried domain, in order:
/// <c>count u16 | each: domain (u8 len) | state u8 | label (u8 len, 0 for none) | certificate expiry i64 | next attempt i64 | detail (u16 len)</c>;
/// times are Unix seconds, 0 for none. A domain held by another provider's deployment comes without its label.
/// </summary>
internal sealed record DomainStates(IReadOnlyList<Gateway.DomainStatus> States)
{
    public byte[] Encode()
    {
        var writer = new PayloadWriter().UInt16(checked((ushort)States.Count));
        foreach (var state in States)
            writer.ShortString(state.Domain).Byte((byte)state.State).ShortString(state.Label ?? "")
                .Int64(state.CertificateExpires?.ToUnixTimeSeconds() ?? 0).Int64(state.NextAttempt?.ToUnixTimeSeconds() ?? 0).LongString(state.Detail);
        return writer.ToFrame(TunnelMessageType.DomainStates);
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out DomainStates? message)
    {
        message = null;
        var cursor = new SpanCursor(payload);
        if (!cursor.TryUInt16(out ushort count) || count > QueryDomains.MaxDomains)
            return false;
        var states = new List<Gateway.DomainStatus>(count);
        for (int i = 0; i < count; i++)
        {
            if (!cursor.TryShortString(out string domain) || !cursor.TryByte(out byte state) || state > (byte)Gateway.DomainState.Failed
                || !cursor.TryShortString(out string label) || !cursor.TryInt64(out long expires) || !cursor.TryInt64(out long next)
                || !cursor.TryLongString(out string detail) || !ValidTime(expires) || !ValidTime(next))
                return false;
            states.Add(new Gateway.DomainStatus(domain, label.Length == 0 ? null : label, (Gateway.DomainState)state,
                expires == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(expires), next == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(next), detail));
        }
        message = new DomainStates(states);
        return true;
    }

    private static bool ValidTime(long seconds) => seconds >= 0 && seconds <= 253_402_300_799; // up to year 9999
}

using System.Diagnostics.CodeAnalysis;

namespace PeerCompute.Tunnel.Protocol;

// The control stream is the first yamux stream the provider opens. Provider -> gateway: SetRoutes (the whole set
// of hostname labels it serves, replacing the previous set); gateway -> provider: RoutesResult (one line per label).

/// <summary>The hostname labels (<c>name-tag</c>) the provider serves now.</summary>
internal sealed record SetRoutes(IReadOnlyList<string> Labels)
{
    public byte[] Encode()
    {
        var writer = new PayloadWriter().UInt16(checked((ushort)Labels.Count));
        foreach (string label in Labels)
            writer.ShortString(label);
        return writer.ToFrame(TunnelMessageType.SetRoutes);
    }

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
        message = new SetRoutes(labels);
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

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Trust;

namespace PeerCompute.Cli;

/// <summary><c>--json</c> of <c>peerctl invite</c> and <c>peercomputed invite</c>: the same shape from both.</summary>
internal sealed record InviteOutput(string Invite, string PeerId, string? Name, IReadOnlyList<string> Addrs, DateTimeOffset Expires);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(InviteOutput))]
internal sealed partial class InviteJsonContext : JsonSerializerContext;

/// <summary>What the two invite commands share: the <c>--expires</c> option and how an invite is printed.</summary>
internal static class InviteCli
{
    /// <summary>
    /// <c>--expires</c>: a number with a unit, <c>30m</c>, <c>12h</c>, <c>7d</c> (default <see cref="Invite.DefaultLifetime"/>),
    /// at most <see cref="Invite.MaxLifetime"/>.
    /// </summary>
    public static TimeSpan ParseLifetime(string? text)
    {
        if (text is null)
            return Invite.DefaultLifetime;
        string t = text.Trim();
        TimeSpan? lifetime = null;
        if (t.Length >= 2 && long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n is > 0 and <= 1_000_000)
        {
            lifetime = t[^1] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
        }
        if (lifetime is null)
            throw new UsageException($"--expires {text}: expected a number and a unit (s, m, h or d), e.g. 7d or 12h.");
        if (lifetime > Invite.MaxLifetime)
            throw new UsageException($"--expires {text}: an invite lasts at most {Invite.MaxLifetime.TotalDays} days.");
        return lifetime.Value;
    }

    /// <summary>The invite alone on stdout (or its JSON), so it can be piped; <paramref name="hint"/> and the details go to stderr.</summary>
    public static void Print(Invite invite, bool json, string hint)
    {
        var addrs = invite.Addresses.Select(a => a.ToString()).ToList();
        if (json)
        {
            CliJson.Write(new InviteOutput(invite.Text, invite.PeerId.ToString(), invite.Name, addrs, invite.Expires), InviteJsonContext.Default.InviteOutput);
            return;
        }
        Console.Out.WriteLine(invite.Text);
        Console.Error.WriteLine(
            $"Invite for {invite.PeerId}{(invite.Name is null ? "" : $" ('{invite.Name}')")}, valid until {invite.Expires.UtcDateTime:yyyy-MM-dd HH:mm} UTC, " +
            $"{(addrs.Count == 0 ? "no addresses" : $"addresses: {string.Join(", ", addrs)}")}.");
        Console.Error.WriteLine(hint);
    }
}

using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Access;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// The routes the provider asks the gateway for, and their announcement on each session: at once, and again after
/// every change. Each exchange is its own short control stream (SetRoutes, RoutesResult, closed), so an idle tunnel
/// keeps no stream open. The gateway's answer per label goes to <paramref name="answered"/>.
/// A route with an access rule (private or basic) goes only to a gateway that enforces it (tunnel protocol
/// <see cref="TunnelHandshake.AccessControlVersion"/> or later): an older gateway would ignore the rule and serve the
/// URL to anyone, so the route is withheld from it, answered locally as refused, and its requests are refused here too.
/// </summary>
internal sealed class RouteAnnouncer(string tag, TimeSpan exchangeTimeout, Action<IReadOnlyDictionary<string, RouteResult>> answered, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private string[] _routes = [];
    private Dictionary<string, RouteAccess> _access = new(StringComparer.Ordinal);
    private Dictionary<string, IReadOnlyList<string>> _domains = new(StringComparer.Ordinal);
    private IReadOnlyList<(string Name, string Domain)> _released = [];
    private string[] _served = [];
    private bool _servedWithRules;

    /// <summary>The deployment names asked for.</summary>
    public IReadOnlyList<string> Routes
    {
        get { lock (_lock) return _routes; }
    }

    /// <summary>The names this session's gateway was told of: <see cref="Routes"/> without those withheld from an older gateway.</summary>
    public IReadOnlyList<string> ServedRoutes
    {
        get { lock (_lock) return _served; }
    }

    /// <summary>The access rule of a route (public when none was given).</summary>
    public RouteAccess AccessOf(string name)
    {
        lock (_lock)
            return _access.GetValueOrDefault(name) ?? RouteAccess.Public;
    }

    /// <summary>Replaces the routes; names that cannot be a hostname label are left out and logged.</summary>
    public void Set(IEnumerable<string> names, IReadOnlyDictionary<string, RouteAccess>? access = null, IReadOnlyDictionary<string, IReadOnlyList<string>>? domains = null,
        IReadOnlyList<(string Name, string Domain)>? released = null)
    {
        var valid = new List<string>();
        foreach (string name in names.Distinct(StringComparer.Ordinal))
        {
            if (TunnelHostname.IsValidName(name))
                valid.Add(name);
            else
                logger.LogWarning("deployment name '{Name}' cannot be a hostname label (1-{Max} of a-z, 0-9, single '-'): no public URL for it", name, TunnelHostname.MaxNameLength);
        }
        var rules = new Dictionary<string, RouteAccess>(StringComparer.Ordinal);
        foreach (string name in valid)
            if (access?.GetValueOrDefault(name) is { Mode: not AccessMode.Public } rule)
                rules[name] = rule;
        var custom = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (string name in valid)
            if (domains?.GetValueOrDefault(name) is { Count: > 0 } list)
                custom[name] = [.. list.Select(PeerCompute.Core.Protocol.CustomDomain.Normalize).Distinct(StringComparer.Ordinal).Take(SetRoutes.MaxDomainsPerLabel)];
        lock (_lock)
        {
            _routes = [.. valid];
            _access = rules;
            _domains = custom;
            _released = [.. (released ?? []).Where(r => TunnelHostname.IsValidName(r.Name)).TakeLast(SetRoutes.MaxReleased)];
            // Until the next exchange says otherwise, a route with a rule is not served: never open before the gateway knows.
            _served = [.. _served.Where(n => valid.Contains(n) && (!rules.ContainsKey(n) || _servedWithRules))];
        }
        _changed.Writer.TryWrite(true);
    }

    /// <summary>
    /// What to tell a gateway speaking <paramref name="version"/>: the labels with their rules, and the names withheld
    /// (non-public routes, when that gateway would not enforce them).
    /// </summary>
    internal static (List<string> Names, List<RouteAccess>? Access, List<string> Withheld) Plan(IReadOnlyList<string> routes, IReadOnlyDictionary<string, RouteAccess> access, byte version)
    {
        bool enforced = version >= TunnelHandshake.AccessControlVersion;
        var names = new List<string>(routes.Count);
        var withheld = new List<string>();
        List<RouteAccess>? rules = enforced && access.Count > 0 ? new List<RouteAccess>(routes.Count) : null;
        foreach (string name in routes)
        {
            var rule = access.GetValueOrDefault(name) ?? RouteAccess.Public;
            if (rule.Mode != AccessMode.Public && !enforced)
            {
                withheld.Add(name);
                continue;
            }
            names.Add(name);
            rules?.Add(rule);
        }
        return (names, rules, withheld);
    }

    /// <summary>Announces the routes on <paramref name="session"/> now and after every change; a failed exchange ends the session.</summary>
    public async Task RunAsync(YamuxSession session, byte version, CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                _changed.Reader.TryRead(out _);
                await ExchangeAsync(session, version, cancellationToken).ConfigureAwait(false);
            }
            while (await _changed.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or TunnelException)
        {
            if (!cancellationToken.IsCancellationRequested && !session.IsClosed)
            {
                logger.LogWarning("tunnel: sending routes failed ({Reason}); reconnecting", e.Message);
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ExchangeAsync(YamuxSession session, byte version, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> routes;
        Dictionary<string, RouteAccess> access;
        Dictionary<string, IReadOnlyList<string>> custom;
        IReadOnlyList<(string Name, string Domain)> givenUp;
        lock (_lock)
        {
            routes = _routes;
            access = _access;
            custom = _domains;
            givenUp = _released;
        }
        var (names, rules, withheld) = Plan(routes, access, version);
        List<IReadOnlyList<string>>? domains = null;
        if (custom.Count > 0 && version >= TunnelHandshake.CustomDomainVersion)
            domains = [.. names.Select(n => custom.GetValueOrDefault(n) ?? [])];
        else if (custom.Count > 0)
            logger.LogWarning("the gateway speaks tunnel protocol version {Version}, which does not serve custom domains (version {Needed} or later does): {Domains} not served there",
                version, TunnelHandshake.CustomDomainVersion, string.Join(", ", custom.Values.SelectMany(d => d)));
        foreach (string name in withheld)
            logger.LogWarning("deployment {Name} is {Mode}, but the gateway speaks tunnel protocol version {Version}, which cannot enforce that (version {Needed} or later can): no public URL for it on this gateway",
                name, access[name].Mode.ToText(), version, TunnelHandshake.AccessControlVersion);
        var labels = names.Select(name => TunnelHostname.LabelFor(name, tag)).ToList();
        List<ReleasedDomain>? released = givenUp.Count > 0 && version >= TunnelHandshake.DomainStatusVersion
            ? [.. givenUp.Select(r => new ReleasedDomain(TunnelHostname.LabelFor(r.Name, tag), r.Domain))]
            : null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(exchangeTimeout);
        await using var stream = await session.OpenStreamAsync(timeout.Token).ConfigureAwait(false);
        // Served from before the gateway accepts: a request can only come for a route the gateway was told of.
        lock (_lock)
        {
            _served = [.. names];
            _servedWithRules = version >= TunnelHandshake.AccessControlVersion;
        }
        await stream.WriteAsync(new SetRoutes(labels, rules, domains, released).Encode(), timeout.Token).ConfigureAwait(false);
        await stream.CompleteWritesAsync(timeout.Token).ConfigureAwait(false);
        var (type, payload) = await TunnelMessageIO.ReadAsync(stream, TunnelHandshake.MaxControlPayload, timeout.Token).ConfigureAwait(false);
        if (type != TunnelMessageType.RoutesResult || !RoutesResult.TryParse(payload, out var result))
            throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: expected the gateway's RoutesResult, got message type {(byte)type}");
        foreach (var refused in result.Results.Where(r => !r.Accepted))
            logger.LogWarning("the gateway refused hostname {Label}: {Reason}", refused.Label, refused.Reason);
        var answers = result.Results.ToDictionary(r => r.Label, StringComparer.Ordinal);
        foreach (string name in withheld)
        {
            string label = TunnelHostname.LabelFor(name, tag);
            answers[label] = new RouteResult(label, false, $"not announced: this gateway (tunnel protocol version {version}) cannot enforce {access[name].Mode.ToText()} access");
        }
        answered(answers);
    }
}

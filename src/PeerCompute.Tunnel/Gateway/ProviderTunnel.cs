using System.Net;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>One connected, authenticated provider: its yamux session, its hostnames, and route streams into it.</summary>
public sealed class ProviderTunnel : IAsyncDisposable
{
    private readonly YamuxSession _yamux;
    private readonly TunnelServerOptions _options;
    private readonly HostnameBindings _bindings;
    private readonly GatewayMetrics? _metrics;
    private readonly ILogger _logger;
    private Dictionary<string, AnnouncedRoute> _routes = new(StringComparer.Ordinal);

    /// <summary>A route as the provider announced it: the header each of its streams starts with, and who may use it.</summary>
    private sealed record AnnouncedRoute(byte[] Header, RouteAccess Access);

    internal ProviderTunnel(PeerId peerId, string tag, EndPoint? remote, YamuxSession yamux, TunnelServerOptions options, HostnameBindings bindings, GatewayMetrics? metrics, ILogger logger)
    {
        PeerId = peerId;
        Tag = tag;
        RemoteEndPoint = remote;
        _yamux = yamux;
        _options = options;
        _bindings = bindings;
        _metrics = metrics;
        _logger = logger;
    }

    public PeerId PeerId { get; }

    public string Tag { get; }

    public EndPoint? RemoteEndPoint { get; }

    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>The hostname labels this provider serves now.</summary>
    public IReadOnlyCollection<string> Routes => Volatile.Read(ref _routes).Keys;

    public bool Serves(string label) => Volatile.Read(ref _routes).ContainsKey(label);

    /// <summary>Who may use <paramref name="label"/>, as its provider said (public for a provider before tunnel protocol version 3).</summary>
    public RouteAccess AccessOf(string label) => Volatile.Read(ref _routes).TryGetValue(label, out var route) ? route.Access : RouteAccess.Public;

    /// <summary>False once the session is closed or either side sent GoAway: no new request may use it.</summary>
    public bool IsAvailable => !_yamux.IsClosed && !_yamux.IsGoingAway;

    /// <summary>Completes when the tunnel has ended.</summary>
    public Task Completion => _yamux.Completion;

    /// <summary>Why the tunnel ended (null for a clean end).</summary>
    public Exception? Error => _yamux.Error;

    public int OpenStreams => _yamux.StreamCount;

    /// <summary>
    /// Opens a stream for one request to <paramref name="label"/> and writes the route header. The request may be
    /// written at once; the provider's answer is checked by the stream's first read.
    /// </summary>
    public async ValueTask<RouteStream> OpenRouteAsync(string label, CancellationToken cancellationToken)
    {
        if (!Volatile.Read(ref _routes).TryGetValue(label, out var route))
            throw new TunnelException(TunnelErrorKind.UnknownRoute, $"{label} is not served by provider {PeerId}");
        YamuxStream stream;
        try
        {
            stream = await _yamux.OpenStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (YamuxStreamLimitException e)
        {
            // This one request is refused; the tunnel and its other streams go on.
            _metrics?.RecordTunnelBusy();
            throw new TunnelException(TunnelErrorKind.TunnelBusy, $"the tunnel of provider {PeerId} is full: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TunnelException(TunnelErrorKind.ProviderOffline, $"the tunnel of provider {PeerId} cannot take requests: {e.Message}", e);
        }
        try
        {
            await stream.WriteAsync(route.Header, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            stream.Reset();
            stream.Dispose();
            throw new TunnelException(TunnelErrorKind.ProviderOffline, $"the tunnel of provider {PeerId} failed: {e.Message}", e);
        }
        _metrics?.RouteStreamOpened();
        return new RouteStream(stream, label, _options.RouteOpenTimeout, _metrics);
    }

    /// <summary>
    /// Serves the provider's control exchanges until the session ends: each stream the provider opens carries one
    /// SetRoutes and gets one RoutesResult, or (version 5) one QueryDomains and gets one DomainStates, then closes. Nothing stays open between exchanges, so an idle tunnel
    /// holds no stream (and no stream buffer) at all. Exchanges are handled one at a time, each within a timeout.
    /// </summary>
    internal async Task RunControlAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _yamux.AcceptStreamAsync(cancellationToken).ConfigureAwait(false) is { } stream)
            {
                await using (stream.ConfigureAwait(false))
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(_options.HandshakeTimeout);
                    var (type, payload) = await TunnelMessageIO.ReadAsync(stream, TunnelFrame.MaxPayload, timeout.Token).ConfigureAwait(false);
                    byte[] answer;
                    if (type == TunnelMessageType.SetRoutes && SetRoutes.TryParse(payload, out var request))
                        answer = new RoutesResult(await ApplyRoutesAsync(request, timeout.Token).ConfigureAwait(false)).Encode();
                    else if (type == TunnelMessageType.QueryDomains && QueryDomains.TryParse(payload, out var query))
                        answer = new DomainStates([.. query.Domains.Select(StatusOf)]).Encode();
                    else
                        throw new TunnelException(TunnelErrorKind.Protocol, $"unexpected control message {(byte)type} from provider {PeerId}");
                    await stream.WriteAsync(answer, timeout.Token).ConfigureAwait(false);
                    await stream.CompleteWritesAsync(timeout.Token).ConfigureAwait(false);
                }
            }
        }
        catch (TunnelException e) when (e.Kind == TunnelErrorKind.Protocol)
        {
            _logger.LogWarning("provider {Peer}: {Reason}; closing its tunnel", PeerId, e.Message);
            await _yamux.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or TunnelException)
        {
            if (!cancellationToken.IsCancellationRequested && !_yamux.IsClosed)
            {
                // A stuck or broken exchange: the provider misbehaves; end its tunnel rather than serve it half.
                _logger.LogWarning("provider {Peer}: control exchange failed ({Reason}); closing its tunnel", PeerId, e.Message);
                await _yamux.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Where <paramref name="domain"/> stands here, as this provider may know it: another provider's hold is said, not shown.</summary>
    private DomainStatus StatusOf(string domain)
    {
        if (_options.Domains is null || _options.DomainStatus is not { } source)
            return new DomainStatus(domain, null, DomainState.Unknown, null, null, "this gateway serves no custom domains");
        var status = source.StatusOf(domain);
        if (status.Label is { } label && (!TunnelHostname.TryParseLabel(label, out _, out string tag) || tag != Tag))
            return new DomainStatus(status.Domain, null, DomainState.HeldByAnother, null, null, "held by another deployment at this gateway");
        return status;
    }

    private async Task<List<RouteResult>> ApplyRoutesAsync(SetRoutes request, CancellationToken cancellationToken)
    {
        var labels = request.Labels;
        var results = new List<RouteResult>(labels.Count);
        var accepted = new Dictionary<string, AnnouncedRoute>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
        {
            string label = labels[i];
            var access = request.AccessAt(i);
            string? refusal = null;
            if (!TunnelHostname.TryParseLabel(label, out _, out string tag))
                refusal = "not a hostname label of the form name-tag";
            else if (tag != Tag)
                refusal = $"tag '{tag}' belongs to another provider; this provider's tag is '{Tag}'";
            else if (accepted.Count >= _options.MaxRoutesPerProvider && !accepted.ContainsKey(label))
                refusal = $"at most {_options.MaxRoutesPerProvider} hostnames per provider";
            else if (access.Problem() is { } problem)
                refusal = problem; // never served open because its rule cannot be kept
            if (refusal is null)
                accepted[label] = new AnnouncedRoute(RouteHeader.Encode(label), access);
            else
                _logger.LogWarning("provider {Peer}: refused hostname {Label}: {Reason}", PeerId, label, refusal);
            results.Add(new RouteResult(label, refusal is null, refusal ?? ""));
        }
        var wanted = new List<(string Domain, string Label)>();
        for (int i = 0; i < labels.Count; i++)
            if (accepted.ContainsKey(labels[i]))
                foreach (string domain in request.DomainsAt(i))
                    wanted.Add((domain, labels[i]));
        if (_options.Domains is { } claims)
        {
            var refused = await claims.ApplyAsync(Tag, accepted.Keys, wanted, cancellationToken, request.Released).ConfigureAwait(false);
            foreach (var (domain, label) in wanted)
            {
                if (refused.TryGetValue(domain, out string? reason))
                    _logger.LogWarning("provider {Peer}: refused custom domain {Domain} for {Label}: {Reason}", PeerId, domain, label, reason);
                results.Add(new RouteResult(domain, reason is null, reason ?? $"served once its DNS points at {label}.{_options.Domain} (CNAME)"));
            }
        }
        else
        {
            results.AddRange(wanted.Select(w => new RouteResult(w.Domain, false, "this gateway serves no custom domains")));
        }
        var previous = Volatile.Read(ref _routes);
        Volatile.Write(ref _routes, accepted);
        await _bindings.SetRoutesAsync(Tag, accepted.Keys, cancellationToken).ConfigureAwait(false);
        // A line when the set changes: a provider without deployments says nothing, one that stopped its last says so.
        if (previous.Count != accepted.Count || !previous.Keys.All(accepted.ContainsKey))
        {
            if (accepted.Count == 0)
                _logger.LogInformation("provider {Peer}: serving no hostnames now", PeerId);
            else
                _logger.LogInformation("provider {Peer}: serving {Count} hostname(s): {Labels}{More}", PeerId, accepted.Count, string.Join(", ", accepted.Keys.Take(16)),
                    accepted.Count > 16 ? ", …" : "");
        }
        return results;
    }

    /// <summary>Takes over the routes of the session this one replaces, until the provider sends its own.</summary>
    internal void InheritRoutes(ProviderTunnel previous)
    {
        // Called before this session's control stream is served, so nothing races with it.
        if (Volatile.Read(ref _routes).Count == 0)
            Volatile.Write(ref _routes, Volatile.Read(ref previous._routes));
    }

    /// <summary>Sends GoAway and waits (up to <paramref name="drainTimeout"/>) for in-flight requests, then closes.</summary>
    public async Task CloseAsync(TimeSpan drainTimeout)
    {
        using var drain = new CancellationTokenSource(drainTimeout);
        try
        {
            await _yamux.CloseAsync(drain.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("provider {Peer}: {Count} stream(s) still open after {Timeout} s of draining; closing", PeerId, _yamux.StreamCount, drainTimeout.TotalSeconds);
        }
        await _yamux.DisposeAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _yamux.DisposeAsync();

    public override string ToString() => $"{PeerId} ({Tag})";
}

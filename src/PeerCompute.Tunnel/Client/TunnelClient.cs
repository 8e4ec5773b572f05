using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// The provider's side of the reverse tunnel: keeps one outbound TLS 1.3 connection to the gateway, proves the
/// provider's identity, has the <see cref="RouteAnnouncer"/> tell the gateway which hostnames it serves, and hands every
/// stream the gateway opens to the <see cref="RouteForwarder"/> (which splices it to the container's port on 127.0.0.1). Reconnects by itself (exponential backoff with jitter), detects a dead link
/// from missing pings, sends the routes again after each reconnect, and drains in-flight requests on shutdown.
/// </summary>
public sealed class TunnelClient : IAsyncDisposable
{
    private readonly PeerIdentity _identity;
    private readonly TunnelClientOptions _options;
    private readonly RouteAnnouncer _announcer;
    private readonly RouteForwarder _forwarder;
    private readonly ILogger _logger;
    private readonly GatewayCertificatePolicy _certificatePolicy;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _disposing = new();
    private TunnelStatus _status = TunnelStatus.Initial;
    private TaskCompletionSource _statusChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _running;
    private (YamuxSession Session, byte Version)? _current;

    /// <param name="identity">The provider's identity (its PeerId decides the hostname tag).</param>
    /// <param name="resolveRoute">Gives the container's endpoint (its bridge address and port, or 127.0.0.1:published port) for a deployment name, or null when unknown.</param>
    public TunnelClient(PeerIdentity identity, TunnelClientOptions options, Func<string, CancellationToken, ValueTask<IPEndPoint?>> resolveRoute, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(resolveRoute);
        options.Validate();
        _identity = identity;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        Tag = TunnelHostname.TagFor(identity.PeerId);
        _announcer = new RouteAnnouncer(Tag, options.HandshakeTimeout, routes => Update(s => s with { Routes = routes }), _logger);
        _forwarder = new RouteForwarder(Tag, () => _announcer.ServedRoutes, resolveRoute, options, _logger);
        _certificatePolicy = new GatewayCertificatePolicy(options.ServerName ?? options.GatewayHost, options.CaFile, options.Pin);
    }

    /// <summary>This provider's hostname tag (derived from its PeerId).</summary>
    public string Tag { get; }

    public PeerId PeerId => _identity.PeerId;

    public TunnelStatus Status
    {
        get { lock (_lock) return _status; }
    }

    /// <summary>Raised (on a worker thread) after every change of <see cref="Status"/>.</summary>
    public event Action<TunnelStatus>? StatusChanged;

    /// <summary>
    /// The deployment names to serve (replacing the previous set); sent now when connected, and after every reconnect.
    /// Names that cannot be a hostname label (see <see cref="TunnelHostname.IsValidName"/>) are left out and logged.
    /// Call it after every route change, a moved one included (same name, another endpoint): connections the gateway
    /// keeps open to a route that is gone or moved are closed then.
    /// </summary>
    /// <param name="access">Access rules by deployment name (private or basic URLs); a name without one is public.</param>
    /// <param name="domains">Custom domains by deployment name (each a CNAME to the deployment's hostname), which the gateway verifies before serving.</param>
    /// <param name="released">Custom domains given up (deployment name, domain): a deployment stopped or removed, or a domain
    /// taken off it. The gateway (tunnel protocol 5 on) stops holding each for that deployment, so another may claim it.</param>
    public void SetRoutes(IEnumerable<string> names, IReadOnlyDictionary<string, RouteAccess>? access = null, IReadOnlyDictionary<string, IReadOnlyList<string>>? domains = null,
        IReadOnlyList<(string Name, string Domain)>? released = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        _announcer.Set(names, access, domains, released);
        _ = RevalidateAsync();
    }

    /// <summary>Connections the gateway holds open to containers now (each one tunnel stream spliced to one container connection).</summary>
    public int ActiveConnections => _forwarder.ActiveSplices;

    private async Task RevalidateAsync()
    {
        try
        {
            await _forwarder.RevalidateAsync(_disposing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The routes currently asked for (deployment names).</summary>
    public IReadOnlyList<string> Routes => _announcer.Routes;

    /// <summary>
    /// <c>https://name-tag.domain[:port]/</c> once a gateway has told its domain (the first handshake), else null;
    /// null too for a name that cannot be a hostname label.
    /// </summary>
    public string? GetPublicUrl(string deploymentName)
    {
        var status = Status;
        if (status.Domain is null || !TunnelHostname.IsValidName(deploymentName))
            return null;
        return TunnelHostname.PublicUrl(deploymentName, Tag, status.Domain, status.HttpsPort);
    }

    /// <summary>
    /// Asks the gateway where <paramref name="domains"/> stand (verification, certificate). Null when the tunnel is not
    /// connected or the gateway is older than tunnel protocol <see cref="TunnelHandshake.DomainStatusVersion"/>.
    /// </summary>
    public async Task<IReadOnlyList<Gateway.DomainStatus>?> QueryDomainsAsync(IReadOnlyList<string> domains, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domains);
        YamuxSession session;
        lock (_lock)
        {
            if (_current is not { } current || current.Version < TunnelHandshake.DomainStatusVersion || current.Session.IsClosed)
                return null;
            session = current.Session;
        }
        if (domains.Count == 0)
            return [];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            await using var stream = await session.OpenStreamAsync(timeout.Token).ConfigureAwait(false);
            await stream.WriteAsync(new QueryDomains([.. domains.Take(QueryDomains.MaxDomains)]).Encode(), timeout.Token).ConfigureAwait(false);
            await stream.CompleteWritesAsync(timeout.Token).ConfigureAwait(false);
            var (type, payload) = await TunnelMessageIO.ReadAsync(stream, TunnelHandshake.MaxControlPayload, timeout.Token).ConfigureAwait(false);
            if (type != TunnelMessageType.DomainStates || !DomainStates.TryParse(payload, out var answer))
                throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: expected the gateway's DomainStates, got message type {(byte)type}");
            return answer.States;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or MuxProtocolException or YamuxStreamLimitException
            || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("tunnel: asking the gateway about custom domains failed ({Reason})", e.Message);
            return null;
        }
    }

    /// <summary>Waits until the status satisfies <paramref name="predicate"/> and returns that status.</summary>
    public async Task<TunnelStatus> WaitForAsync(Func<TunnelStatus, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            TunnelStatus status;
            Task changed;
            lock (_lock)
            {
                status = _status;
                changed = _statusChanged.Task;
            }
            if (predicate(status))
                return status;
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Keeps the tunnel up until <paramref name="cancellationToken"/> fires or the client is disposed; then sends
    /// GoAway, lets in-flight requests finish (up to <see cref="TunnelClientOptions.DrainTimeout"/>) and returns.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_running is not null)
                throw new InvalidOperationException("The tunnel client is already running.");
            _running = RunLoopAsync(cancellationToken);
            return _running;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposing.IsCancellationRequested)
            return;
        _disposing.Cancel();
        Task? running;
        lock (_lock)
            running = _running;
        if (running is not null)
        {
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _disposing.Dispose();
    }

    private async Task RunLoopAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var token = stop.Token;
        var backoff = new ReconnectBackoff(_options.InitialBackoff, _options.MaxBackoff);
        string endpoint = $"{_options.GatewayHost}:{_options.GatewayPort}";
        while (!token.IsCancellationRequested)
        {
            Update(s => s with { State = TunnelState.Connecting });
            Exception? error = null;
            long started = Environment.TickCount64;
            try
            {
                var (session, challenge, relay, version) = await ConnectAsync(token).ConfigureAwait(false);
                _logger.LogInformation("tunnel to {Gateway} up: provider tag {Tag}, domain {Domain}", endpoint, Tag, challenge.Domain);
                Update(s => s with
                {
                    State = TunnelState.Connected,
                    LastError = null,
                    Domain = challenge.Domain,
                    HttpsPort = challenge.HttpsPort,
                    Relay = relay is null ? null : new GatewayRelay(relay.PeerId, relay.AddressesFor(_options.GatewayHost)),
                    ConnectedSince = DateTimeOffset.UtcNow,
                    Attempt = 0,
                });
                error = await ServeAsync(session, version, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                error = e;
            }
            if (token.IsCancellationRequested)
                break;
            if (TimeSpan.FromMilliseconds(Environment.TickCount64 - started) >= _options.StableSession)
                backoff.Reset();
            var delay = backoff.Next();
            string reason = Describe(error);
            Update(s => s with { State = TunnelState.Disconnected, LastError = reason, ConnectedSince = null, Attempt = backoff.Attempt });
            _logger.LogWarning("gateway tunnel down ({Gateway}): {Reason}; retrying in {Delay:0.0} s", endpoint, reason, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        Update(s => s with { State = TunnelState.Stopped, ConnectedSince = null });
    }

    private static string Describe(Exception? error) => error switch
    {
        null => "the gateway closed the tunnel",
        TunnelException t => t.Message,
        AuthenticationException a => $"TLS handshake failed: {a.Message}",
        SocketException s => $"cannot reach the gateway: {s.Message}",
        OperationCanceledException or TimeoutException => "the handshake timed out",
        _ => error.Message,
    };

    /// <summary>TCP, TLS 1.3, authentication, then yamux. Throws on any failure; the caller retries.</summary>
    private async Task<(YamuxSession Session, Challenge Challenge, RelayOffer? Relay, byte Version)> ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var token = timeout.Token;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? ssl = null;
        try
        {
            try
            {
                await socket.ConnectAsync(_options.GatewayHost, _options.GatewayPort, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TunnelException(TunnelErrorKind.Network, $"no TCP connection to {_options.GatewayHost}:{_options.GatewayPort} within {_options.HandshakeTimeout.TotalSeconds:0.#} s");
            }
            ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            await _certificatePolicy.AuthenticateAsync(ssl, token).ConfigureAwait(false);

            byte[] certificateHash = AuthTranscript.CertificateHash(ssl.RemoteCertificate!);
            var handshake = await TunnelHandshake.RunProviderAsync(ssl, certificateHash, _identity, Tag, _options.Versions, token).ConfigureAwait(false);

            var yamux = _options.Yamux with { KeepAliveInterval = _options.KeepAliveInterval, DeadLinkTimeout = _options.DeadLinkTimeout };
            var session = YamuxSession.Start(ssl, isClient: true, yamux);
            return (session, handshake.Challenge, handshake.Welcome.Relay, handshake.Version);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Dispose(ssl, socket);
            throw new TunnelException(TunnelErrorKind.Network, $"the handshake with {_options.GatewayHost}:{_options.GatewayPort} did not finish within {_options.HandshakeTimeout.TotalSeconds:0.#} s");
        }
        catch
        {
            Dispose(ssl, socket);
            throw;
        }
    }

    private static void Dispose(SslStream? ssl, Socket socket)
    {
        if (ssl is not null)
            ssl.Dispose();
        else
            socket.Dispose();
    }

    /// <summary>Runs one session until it ends (returns its error) or the client stops (drains, returns null).</summary>
    private async Task<Exception?> ServeAsync(YamuxSession session, byte version, CancellationToken cancellationToken)
    {
        // Requests in flight live until the session is closed (after draining), not until the stop request.
        using var sessionScope = new CancellationTokenSource();
        using var controlScope = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lock (_lock)
            _current = (session, version);
        try
        {
            _ = _announcer.RunAsync(session, version, controlScope.Token);
            while (await session.AcceptStreamAsync(cancellationToken).ConfigureAwait(false) is { } stream)
                _ = _forwarder.ForwardAsync(stream, sessionScope.Token);
            // The session ended by itself (dead link, gateway gone or restarting).
            await session.DisposeAsync().ConfigureAwait(false);
            return session.Error;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: GoAway, let the in-flight requests finish, then close.
            controlScope.Cancel();
            using var drain = new CancellationTokenSource(_options.DrainTimeout);
            try
            {
                await session.CloseAsync(drain.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("tunnel: in-flight requests did not finish within {Timeout} s; closing anyway", _options.DrainTimeout.TotalSeconds);
            }
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            await session.DisposeAsync().ConfigureAwait(false);
            return e is IOException && session.Error is { } sessionError ? sessionError : e;
        }
        finally
        {
            lock (_lock)
                _current = null;
            controlScope.Cancel();
            sessionScope.Cancel();
        }
    }

    private void Update(Func<TunnelStatus, TunnelStatus> change)
    {
        TunnelStatus next;
        TaskCompletionSource changed;
        lock (_lock)
        {
            next = change(_status);
            if (next == _status)
                return;
            _status = next;
            changed = _statusChanged;
            _statusChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
        try
        {
            StatusChanged?.Invoke(next);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "tunnel: a StatusChanged handler failed");
        }
    }
}

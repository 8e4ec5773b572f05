using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Limits;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// The gateway's tunnel listener: accepts providers' TLS 1.3 connections, authenticates them (signed challenge bound
/// to the session), checks trust and hostname-tag ownership, and keeps one <see cref="ProviderTunnel"/> per provider
/// in the <see cref="Registry"/>. Handshakes are bounded in time and in number, so garbage, half-finished or slow
/// handshakes cost a slot for a few seconds and never disturb established tunnels.
/// </summary>
public sealed class TunnelServer : IAsyncDisposable
{
    private readonly TunnelServerOptions _options;
    private readonly Func<SslStreamCertificateContext> _certificate;
    private readonly GatewayMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _handshakeSlots;
    private readonly InFlightLimiter _handshakesPerAddress;
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _domain;
    private readonly YamuxOptions _yamux;
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private readonly Lock _running = new();
    private readonly HashSet<Task> _connections = [];

    /// <param name="certificate">The certificate for each new handshake (so a reloaded one is used at once).</param>
    public TunnelServer(TunnelServerOptions options, Func<SslStreamCertificateContext> certificate, HostnameBindings bindings, GatewayMetrics? metrics = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _domain = TunnelHostname.NormalizeDomain(options.Domain);
        _certificate = certificate;
        _metrics = metrics;
        _logger = logger ?? NullLogger.Instance;
        _handshakeSlots = new SemaphoreSlim(options.MaxPendingHandshakes, options.MaxPendingHandshakes);
        _handshakesPerAddress = new InFlightLimiter(options.MaxPendingHandshakesPerAddress);
        _yamux = options.Yamux with { KeepAliveInterval = options.KeepAliveInterval, DeadLinkTimeout = options.DeadLinkTimeout };
        Registry = new TunnelRegistry(bindings);
        // A connected provider's tag is never the one evicted to make room.
        bindings.InUse = tag => Registry.FindByTag(tag) is not null;
        if (metrics is not null)
            metrics.ActiveTunnels = () => Registry.Count;
    }

    public TunnelRegistry Registry { get; }

    public string Domain => _domain;

    /// <summary>The bound address (useful with port 0).</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;

    /// <summary>Binds the tunnel port and starts accepting providers.</summary>
    public void Start()
    {
        var endpoint = _options.TunnelEndPoint;
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
                listener.DualMode = true;
            listener.Bind(endpoint);
            listener.Listen(1024);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new TunnelException(TunnelErrorKind.Network, $"Cannot listen for tunnels on {endpoint}: {e.Message}", e);
        }
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                // Out of descriptors or a connection reset before accept: keep serving the others.
                _logger.LogWarning("tunnel accept failed: {Reason}", e.Message);
                try
                {
                    await Task.Delay(50, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            string address = AddressKey.For((socket.RemoteEndPoint as IPEndPoint)?.Address);
            if (!_handshakesPerAddress.TryEnter(address))
            {
                _metrics?.RecordHandshakeFailed();
                socket.Dispose();
                continue;
            }
            if (!_handshakeSlots.Wait(0))
            {
                _handshakesPerAddress.Exit(address);
                _metrics?.RecordHandshakeFailed();
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            Track(ServeConnectionAsync(socket, address));
        }
    }

    private void Track(Task task)
    {
        lock (_running)
            _connections.Add(task);
        task.ContinueWith(t => { lock (_running) _connections.Remove(t); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ServeConnectionAsync(Socket socket, string address)
    {
        var remote = socket.RemoteEndPoint;
        ProviderTunnel? session = null;
        try
        {
            session = await HandshakeAsync(socket, remote).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (e is TunnelException { Kind: TunnelErrorKind.Refused })
                _metrics?.RecordProviderRefused();
            else
                _metrics?.RecordHandshakeFailed();
            if (e is TunnelException { Kind: TunnelErrorKind.Refused })
                _logger.LogWarning("tunnel from {Remote} refused: {Reason}", remote, e.Message);
            else
                _logger.LogInformation("tunnel handshake from {Remote} failed: {Reason}", remote, Describe(e));
        }
        finally
        {
            _handshakeSlots.Release();
            _handshakesPerAddress.Exit(address);
        }
        if (session is null)
            return;

        var replaced = Registry.Register(session);
        _logger.LogInformation("provider {Peer} connected from {Remote}, tag {Tag}{Replaced}", session.PeerId, remote, session.Tag,
            replaced is null ? "" : " (replacing its previous tunnel)");
        if (replaced is not null)
            _ = replaced.DisposeAsync().AsTask();
        try
        {
            await session.RunControlAsync(_stopping.Token).ConfigureAwait(false);
            await session.Completion.ConfigureAwait(false);
        }
        finally
        {
            if (Registry.Unregister(session))
                _logger.LogInformation("provider {Peer} disconnected: {Reason}", session.PeerId, session.Error?.Message ?? "closed");
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string Describe(Exception e) => e switch
    {
        OperationCanceledException => "timed out",
        AuthenticationException a => $"TLS: {a.InnerException?.Message ?? a.Message}",
        // What a provider does when it refuses this gateway's certificate: it says why in its own log.
        TunnelException { InnerException: EndOfStreamException } => $"{e.Message} (a provider that refuses this gateway's certificate does this: it needs --gateway-pin $(gateway pin), or --gateway-ca)",
        _ => e.Message,
    };

    private async Task<ProviderTunnel> HandshakeAsync(Socket socket, EndPoint? remote)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var token = timeout.Token;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await WaitForFirstByteAsync(socket, token).ConfigureAwait(false);
            await ssl.AuthenticateAsServerAsync(TunnelTls.TunnelOptions(_certificate()), token).ConfigureAwait(false);
            TunnelTls.EnsureTls13(ssl, "");

            var handshake = await TunnelHandshake.RunGatewayAsync(ssl, AuthTranscript.CertificateHash(ssl.LocalCertificate!), _domain, (ushort)_options.HttpsPort,
                (ushort)Math.Min(_options.MaxRoutesPerProvider, ushort.MaxValue), AdmitAsync, TunnelHandshake.Versions, token, _options.Relay).ConfigureAwait(false);

            var yamux = YamuxSession.Start(ssl, isClient: false, _yamux);
            return new ProviderTunnel(handshake.Peer, handshake.Tag, remote, yamux, _options, Registry.Bindings, _metrics, _logger);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A connection that says nothing gives its slot back after the short first-byte timeout, not the whole handshake timeout.</summary>
    private async Task WaitForFirstByteAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var firstByte = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        firstByte.CancelAfter(_options.FirstByteTimeout);
        byte[] peek = new byte[1];
        if (await socket.ReceiveAsync(peek, SocketFlags.Peek, firstByte.Token).ConfigureAwait(false) == 0)
            throw new TunnelException(TunnelErrorKind.Network, "closed before the TLS handshake");
    }

    /// <summary>This gateway's admission rules for a provider that proved its identity: trust, capacity, tag ownership.</summary>
    private async ValueTask<Refused?> AdmitAsync(PeerId peer, string tag, CancellationToken cancellationToken)
    {
        if (!_options.Open && !_options.TrustedProviders.Contains(peer))
            return new Refused(RefusalCode.Untrusted, $"provider {peer} is not trusted by this gateway (start it with --trust-provider {peer}, or --open)");
        if (Registry.FindByTag(tag) is null && Registry.Count >= _options.MaxTunnels)
            return new Refused(RefusalCode.Busy, $"this gateway serves {_options.MaxTunnels} providers already");
        if (!await Registry.Bindings.TryClaimAsync(tag, peer, cancellationToken).ConfigureAwait(false))
        {
            return Registry.Bindings.OwnerOf(tag) is { } owner
                ? new Refused(RefusalCode.TagTaken, $"hostname tag '{tag}' belongs to provider {owner}")
                : new Refused(RefusalCode.Busy, $"this gateway keeps {Registry.Bindings.MaxBindings} hostname tags, all of connected providers");
        }
        return null;
    }

    /// <summary>
    /// Stops accepting providers, sends GoAway on every tunnel, waits for their in-flight requests (up to the drain
    /// timeout), then closes them.
    /// </summary>
    public async Task ShutdownAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        _stopping.Cancel();
        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        var sessions = Registry.Tunnels.ToList();
        if (sessions.Count > 0)
            _logger.LogInformation("draining {Count} tunnel(s)", sessions.Count);
        await Task.WhenAll(sessions.Select(s => s.CloseAsync(_options.DrainTimeout))).ConfigureAwait(false);
        Task[] connections;
        lock (_running)
            connections = [.. _connections];
        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}

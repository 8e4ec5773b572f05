using Microsoft.Extensions.Logging;
using PeerCompute.Core.Hosting;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Provider.Configuration;
using PeerCompute.Provider.Service;
using PeerCompute.Net.Host;
using PeerCompute.Net.Mdns;
using PeerCompute.Runtime;
using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.Status;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tls;
using ZLogger;

namespace PeerCompute.Daemon.Hosting;

/// <summary>
/// The provider: the container runtime (adopting what ran before), the libp2p host serving
/// <c>/peercompute/1.0.0</c>, and a graceful stop that finishes in-flight requests and leaves containers running.
/// </summary>
internal sealed class ProviderDaemon
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);
    /// <summary>How a deploy waits for its container to answer before it says it does not.</summary>
    public static readonly ReadinessOptions Readiness = new();
    public static readonly TimeSpan ReconcileInterval = TimeSpan.FromMinutes(1);

    public static async Task<int> RunAsync(ProviderConfig config, PeerComputeHome home, PeerIdentity identity, ILoggerFactory loggers, CancellationToken stop)
    {
        var log = loggers.CreateLogger("peercomputed");
        log.ZLogInformation($"peercomputed {PeerCompute.Cli.CliApp.Version} starting as {identity.PeerId.ToString()}");
        log.ZLogInformation($"home {home.Path}; max-cpu {config.MaxCpuMillicores}m, max-memory {Core.Resources.Quantities.FormatBytes(config.MaxMemoryBytes)}, max-deploys {config.MaxDeploys}, max-storage {Core.Resources.Quantities.FormatBytes(config.MaxStorageBytes)}; listen {string.Join(", ", config.EffectiveListen)}; gateway {(config.Gateways.Count == 0 ? "none" : string.Join(", ", config.Gateways))}; mdns {(config.NoMdns ? "off" : "on")}");

        var runtimeOptions = new RuntimeOptions
        {
            StateFolder = home.ProviderStateFolder,
            // Containers are labelled with the provider's identity, so two providers sharing one engine never adopt each other's.
            Instance = identity.PeerId.ToString(),
            MaxCpuMillicores = config.MaxCpuMillicores,
            MaxMemoryBytes = config.MaxMemoryBytes,
            MaxDeploys = config.MaxDeploys,
            Egress = config.Egress,
            AllowedRegistries = config.AllowRegistry,
            MaxWritableBytes = config.MaxWritableBytes,
            MaxImageBytes = config.MaxImageBytes,
            AllowUnboundedWritable = config.AllowUnboundedWritable,
            RestartBackoffMax = TimeSpan.FromSeconds(config.RestartBackoffMaxSeconds),
            MaxStorageBytes = config.MaxStorageBytes,
            DefaultVolumeBytes = config.DefaultVolumeBytes,
            VolumesFolder = config.VolumesFolder,
            PreviousLogsBytes = config.PreviousLogsBytes,
            RevisionHistory = config.RevisionHistory,
            UpdateDrainTimeout = TimeSpan.FromSeconds(config.UpdateDrainTimeoutSeconds),
        };
        if (config.AllowRegistry.Count > 0)
            log.ZLogWarning($"images may be pulled from these registries on blocked addresses (--allow-registry): {string.Join(", ", config.AllowRegistry)}");
        if (config.EgressOpen)
            log.ZLogWarning($"egress: open (--egress open): containers can reach this host, the local network and cloud metadata addresses");
        else
            log.ZLogInformation($"egress: filtered: containers reach the internet but not this host, private, shared or link-local ranges; allowed again: {(config.AllowEgress.Count == 0 ? "none" : string.Join(", ", config.AllowEgress.Select(EgressRules.Format)))}");
        await using var runtime = new ContainerRuntime(runtimeOptions, loggers.CreateLogger("runtime"));
        ReconcileReport report;
        try
        {
            report = await StartRuntimeAsync(runtime, log, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Asked to stop while the engine was still away: an orderly stop, not a failure.
            log.ZLogInformation($"stopped before the Docker engine answered");
            return 0;
        }
        log.ZLogInformation($"runtime ready: adopted {report.Adopted.Count}, vanished {report.Vanished.Count}, orphans {report.Orphans.Count} ({report.OrphansRemoved.Count} removed)");
        if (report.Recovered.Count + report.Unreadable.Count > 0)
            log.ZLogWarning($"unreadable records: {report.Recovered.Count} deployments adopted again from their containers' labels, {report.Unreadable.Count} containers kept for the operator (see the lines below)");
        foreach (string problem in report.Problems.Where(p => p != runtime.EgressProblem && p != runtime.VolumesProblem))
            log.ZLogWarning($"reconcile: {problem}");
        if (runtime.EgressProblem is { } egressProblem)
            log.ZLogError($"deploys are refused until the egress firewall is in place: {egressProblem}. {(egressProblem.StartsWith(EgressFirewall.BypassedPrefix, StringComparison.Ordinal) ? "Let the engine filter with iptables (its default), so FORWARD jumps to DOCKER-USER," : "Run peercomputed as root or with CAP_NET_ADMIN (the systemd unit grants it),")} or start it with --egress open to run containers without egress filtering.");

        LogStorage(runtime.Storage!, config, log);
        if (runtime.VolumesProblem is { } volumesProblem)
            log.ZLogWarning($"deploys with volumes are refused (volumes_unavailable): {volumesProblem}");

        var trust = new TrustStore(home);
        var guard = new RequestGuard(peer => IsTrusted(trust, peer, log));
        // Every public request resolves here: from the route table, so it costs the engine nothing.
        await using var tunnels = GatewayTunnels.Create(config, identity, (name, ct) => PublicRoutes.ResolveAsync(runtime, name, ct), loggers);
        // The gateway's routes come from the runtime's route table, not the engine: it follows deploys, stops and reconciles.
        Task RefreshRoutesAsync()
        {
            tunnels?.SetRoutes(runtime.Routes);
            return Task.CompletedTask;
        }
        var backend = new RuntimeBackend(runtime, identity.PeerId, name => tunnels?.GetPublicUrl(name), Readiness, RefreshRoutesAsync,
            tunnels is null ? null : tunnels.QueryDomainsAsync);
        Task tunnelRun = Task.CompletedTask;
        if (tunnels is not null)
        {
            await RefreshRoutesAsync().ConfigureAwait(false);
            foreach (var (address, tunnel) in tunnels.All)
            {
                // A line when a tunnel comes up or stops; each failed attempt is the tunnel's own "down" line. Routes and
                // relay changes update the status too, and say nothing here.
                string which = tunnels.All.Count == 1 ? "" : $" ({address})";
                var lastState = tunnel.Status.State;
                var stateLock = new Lock();
                tunnel.StatusChanged += s =>
                {
                    lock (stateLock)
                    {
                        if (s.State == lastState)
                            return;
                        lastState = s.State;
                    }
                    if (s.State is TunnelState.Connected or TunnelState.Stopped)
                        log.ZLogInformation($"gateway tunnel {s.State.ToString().ToLowerInvariant()}{which}");
                };
            }
            tunnelRun = Task.WhenAll(tunnels.RunAsync(stop), FollowRoutesAsync(tunnels, runtime, stop));
        }
        var refusals = new RecentRefusals();
        var handler = new ProviderProtocolHandler(guard, backend, loggers.CreateLogger("requests"), statusLimits: config.StatusLimits, refusals: refusals);

        // Trusted peers (the same list requests are checked against) get the room strangers cannot take.
        var hostOptions = new Libp2pHostOptions
        {
            MaxInboundConnections = config.MaxConnections,
            MaxUntrustedConnections = config.MaxUntrustedConnections,
            MaxUntrustedConnectionsPerAddress = config.MaxUntrustedConnectionsPerAddress,
            MaxPendingInboundConnections = config.MaxHandshakes,
            MaxPendingInboundPerAddress = config.MaxHandshakesPerAddress,
            HandshakeTimeout = TimeSpan.FromSeconds(config.HandshakeTimeoutSeconds),
            UntrustedIdleTimeout = TimeSpan.FromSeconds(config.UntrustedIdleTimeoutSeconds),
            MaxUntrustedPeersInAddressBook = config.MaxUntrustedPeers,
            // Hole punching upgrades a trusted peer's relayed connection to a direct one; outgoing connections leave from
            // the listening port for it (the port a NAT maps and the relay observes).
            EnableHolePunching = true,
            // Asked once per inbound handshake, so from a cache: a flood of strangers must not read the file once each.
            IsTrusted = new CachedTrust(() => TrustedPeerIds(trust, log), TimeSpan.FromSeconds(1)).IsTrusted,
        };
        log.ZLogInformation($"libp2p connections: {config.MaxConnections} in all, {config.ReservedForTrusted} kept for trusted peers; strangers: {config.MaxUntrustedConnections} open ({config.MaxUntrustedConnectionsPerAddress} per address, closed after {config.UntrustedIdleTimeoutSeconds} s without a stream), {config.MaxHandshakes} in their handshake ({config.MaxHandshakesPerAddress} per address, {config.HandshakeTimeoutSeconds} s each)");
        await using var host = new Libp2pHost(identity, hostOptions, loggers.CreateLogger("libp2p"));
        using var inFlight = new InFlight();
        host.SetStreamHandler(ProtocolIds.PeerCompute, async (stream, ct) =>
        {
            using var _ = inFlight.Enter();
            await handler.HandleAsync(stream.Stream, stream.RemotePeer, ct).ConfigureAwait(false);
        });
        host.InboundConnectionFailed += (endpoint, ex) => log.ZLogInformation($"inbound connection from {endpoint?.ToString()} failed: {ex.Message}");

        var bound = new List<Multiaddr>();
        foreach (string text in config.EffectiveListen)
        {
            var address = Multiaddr.Parse(text);
            try
            {
                bound.Add(await host.ListenAsync(address, stop).ConfigureAwait(false));
            }
            catch (System.Net.Sockets.SocketException ex) when (config.Listen.Count == 0 && address.Components[0].Protocol == MultiaddrProtocol.Ip6)
            {
                log.ZLogWarning($"not listening on {address.ToString()}: {ex.Message}");
            }
        }
        foreach (var address in host.ListenAddresses)
            log.ZLogInformation($"listening on {address.ToString()}/p2p/{identity.PeerId.ToString()}");
        // Relays keep the provider reachable from outside its network: --relay ones, and the gateway's, named by its tunnel.
        await using var relays = new ProviderRelays(host, log);
        await relays.AddAsync(config.Relays, stop).ConfigureAwait(false);
        foreach (var (address, tunnel) in tunnels?.All ?? [])
        {
            tunnel.StatusChanged += s => _ = relays.FollowGatewayAsync(address, s);
            await relays.FollowGatewayAsync(address, tunnel.Status).ConfigureAwait(false);
        }
        // The local network is told direct addresses only: a relayed one is no use to a neighbour.
        await using var mdns = config.NoMdns ? null : new MdnsService(identity.PeerId, () => [.. host.ListenAddresses.Where(a => !a.IsRelayed)]);
        if (mdns is not null)
        {
            mdns.Problem += problem => log.ZLogDebug($"mdns: {problem}");
            try
            {
                mdns.Start();
                log.ZLogInformation($"mdns: announcing {identity.PeerId.ToString()} as {mdns.PeerName}.{MdnsServiceOptions.ServiceName} (turn off with --no-mdns)");
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                log.ZLogWarning($"mdns: not announcing: {ex.Message}");
            }
        }
        // The owner's local channel ('peercomputed invite'): the addresses are read at each request, so a relay
        // reservation made later is in the next invite.
        await using var control = StartControl(home, () => new InviteAnswer(identity.PeerId.ToString(), ControlSocket.InviteAddresses(host.ListenAddresses)), log);
        await using var statusPage = StartStatusPage(config, runtime, identity, tunnels, refusals, log);
        log.ZLogInformation($"ready: serving {ProtocolIds.PeerCompute} as {identity.PeerId.ToString()}");
        SystemdNotify.Notify("READY=1");

        // Reconcile now and then: containers removed behind our back are marked, orphans go after their grace period.
        using var reconcileTimer = new PeriodicTimer(ReconcileInterval);
        try
        {
            while (await reconcileTimer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    var again = await runtime.ReconcileAsync(stop).ConfigureAwait(false);
                    if (again.Vanished.Count + again.OrphansRemoved.Count + again.Recovered.Count > 0)
                        log.ZLogInformation($"reconcile: vanished {again.Vanished.Count}, orphans removed {again.OrphansRemoved.Count}, adopted again from labels {again.Recovered.Count}");
                    await RefreshRoutesAsync().ConfigureAwait(false);
                }
                catch (RuntimeException ex)
                {
                    log.ZLogWarning($"reconcile failed: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        int open = inFlight.Count;
        log.ZLogInformation($"stopping: no new requests{(open > 0 ? $"; waiting for {open} request(s) in flight" : "")}; containers keep running");
        SystemdNotify.Notify("STOPPING=1");
        host.RemoveStreamHandler(ProtocolIds.PeerCompute);
        if (!await inFlight.WaitIdleAsync(DrainTimeout).ConfigureAwait(false))
            log.ZLogWarning($"{inFlight.Count} requests still running after {DrainTimeout.TotalSeconds} s; closing them");
        try
        {
            await tunnelRun.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        log.ZLogInformation($"stopped");
        return 0;
    }

    /// <summary>The local status page (--status-port); without it the provider still serves, so a failure is a warning.</summary>
    private static StatusEndpoint? StartStatusPage(ProviderConfig config, ContainerRuntime runtime, PeerIdentity identity, GatewayTunnels? tunnels, RecentRefusals refusals, ILogger log)
    {
        if (config.StatusPort is not int port)
            return null;
        var startedAt = DateTimeOffset.UtcNow;
        async Task<ProviderStatusSnapshot> SnapshotAsync(CancellationToken ct)
        {
            var all = await runtime.ListAllAsync(ct).ConfigureAwait(false);
            // Usage comes from the engine's stats, one call per running container: asked for all at once.
            var deployments = await Task.WhenAll(all.Select(async d =>
            {
                if (d.State != DeploymentState.Running)
                    return d;
                try
                {
                    return await runtime.GetStatusAsync(d.Id, d.Owner, includeUsage: true, ct).ConfigureAwait(false);
                }
                catch (RuntimeException)
                {
                    return d;
                }
            })).ConfigureAwait(false);
            return new ProviderStatusSnapshot(identity.PeerId.ToString(), startedAt, DateTimeOffset.UtcNow, runtime.GetCapacity(), deployments,
                [.. (tunnels?.All ?? []).Select(t => (t.Address, t.Client.Status))], refusals.Snapshot(), refusals.Total);
        }
        try
        {
            var endpoint = StatusEndpoint.Start(port, SnapshotAsync, log);
            log.ZLogInformation($"status page on http://127.0.0.1:{port}/ (this machine only)");
            return endpoint;
        }
        catch (System.Net.HttpListenerException e)
        {
            log.ZLogWarning($"status page: not serving on 127.0.0.1:{port}: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Tells the tunnel of every route change the moment the runtime makes it, not only after a request: an update moves
    /// its route mid-request (then drains the old container), and the kept connections to the old one must learn of the
    /// move then, to close once idle.
    /// </summary>
    private static async Task FollowRoutesAsync(GatewayTunnels tunnel, ContainerRuntime runtime, CancellationToken stop)
    {
        try
        {
            await foreach (var _ in runtime.Routes.WatchAsync(stop).ConfigureAwait(false))
                tunnel.SetRoutes(runtime.Routes);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The control socket; without it the provider still serves (only 'peercomputed invite' cannot reach it), so a failure is a warning.</summary>
    private static ControlSocket? StartControl(PeerComputeHome home, Func<InviteAnswer> invite, ILogger log)
    {
        string path = ControlSocket.PathIn(home);
        try
        {
            var control = ControlSocket.Start(path, invite, log);
            log.ZLogInformation($"control: listening on {path} (owner only; for 'peercomputed invite')");
            return control;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            log.ZLogWarning($"control: not listening on {path}: {e.Message}; 'peercomputed invite' will not reach this daemon");
            return null;
        }
    }

    /// <summary>What the engine's storage can bound, and whether users are remapped (recommended, not required: see docs/ARCHITECTURE.md).</summary>
    private static void LogStorage(EngineStorage storage, ProviderConfig config, ILogger log)
    {
        string images = $"images up to {Core.Resources.Quantities.FormatBytes(config.MaxImageBytes)} (--max-image-size)";
        if (storage.CapsWritableLayer)
            log.ZLogInformation($"storage: {storage.Describe()} caps each container's writable layer at {Core.Resources.Quantities.FormatBytes(config.MaxWritableBytes)} (--max-writable-size); {images}");
        else if (config.AllowUnboundedWritable)
            log.ZLogWarning($"storage: {storage.Describe()} cannot cap writable layers ({storage.CapProblem}); --allow-unbounded-writable: a --writable deployment can fill Docker's disk; {images}");
        else
            log.ZLogWarning($"storage: {storage.Describe()} cannot cap writable layers ({storage.CapProblem}): --writable deployments are refused (writable_unbounded); put Docker's data root on xfs mounted with prjquota, or start with --allow-unbounded-writable; {images}");
        if (storage.UserNamespaceRemap)
            log.ZLogInformation($"user namespaces: remapped (dockerd --userns-remap): root in a container is an unprivileged user on this host");
        else
            log.ZLogInformation($"user namespaces: not remapped: root in a container is root on this host if it escapes; dockerd --userns-remap is recommended (see docs/ARCHITECTURE.md)");
    }

    /// <summary>At boot Docker may come up after us: wait for it (with backoff) instead of exiting.</summary>
    private static async Task<ReconcileReport> StartRuntimeAsync(ContainerRuntime runtime, ILogger log, CancellationToken stop)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await runtime.StartAsync(stop).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.DockerUnavailable)
            {
                log.ZLogWarning($"waiting for the Docker engine: {ex.Message}; retrying in {delay.TotalSeconds:0} s");
                await Task.Delay(delay, stop).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
            }
        }
    }

    private static IReadOnlyCollection<string> TrustedPeerIds(TrustStore trust, ILogger log)
    {
        try
        {
            return [.. trust.List().Select(p => p.PeerId)];
        }
        catch (TrustStoreException ex)
        {
            log.ZLogError($"{ex.Message}");
            return [];
        }
    }

    private static bool IsTrusted(TrustStore trust, PeerId peer, ILogger log)
    {
        try
        {
            return trust.IsTrusted(peer);
        }
        catch (TrustStoreException ex)
        {
            log.ZLogError($"{ex.Message}");
            return false;
        }
    }

    /// <summary>Counts running request handlers so a stop can wait for them.</summary>
    private sealed class InFlight : IDisposable
    {
        private readonly Lock _lock = new();
        private int _count;
        private TaskCompletionSource _idle = CompletedSource();

        public int Count
        {
            get { lock (_lock) return _count; }
        }

        public IDisposable Enter()
        {
            lock (_lock)
            {
                if (_count++ == 0)
                    _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            return new Exit(this);
        }

        public async Task<bool> WaitIdleAsync(TimeSpan timeout)
        {
            Task idle;
            lock (_lock)
                idle = _idle.Task;
            return await Task.WhenAny(idle, Task.Delay(timeout)).ConfigureAwait(false) == idle;
        }

        private void Leave()
        {
            lock (_lock)
            {
                if (--_count == 0)
                    _idle.TrySetResult();
            }
        }

        public void Dispose()
        {
        }

        private static TaskCompletionSource CompletedSource()
        {
            var source = new TaskCompletionSource();
            source.SetResult();
            return source;
        }

        private sealed class Exit(InFlight owner) : IDisposable
        {
            private int _done;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _done, 1) == 0)
                    owner.Leave();
            }
        }
    }
}

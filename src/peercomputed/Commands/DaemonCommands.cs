using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Resources;
using PeerCompute.Core.Storage;
using PeerCompute.Provider.Configuration;
using PeerCompute.Daemon.Hosting;

namespace PeerCompute.Daemon.Commands;

internal sealed class DaemonCommands
{
    /// <summary>
    /// Run the provider. Every option can also be set in $PEERCOMPUTE_HOME/peercomputed.json (same names, e.g. {"max-memory": "2GB"});
    /// options given here win. Example: peercomputed --max-cpu 2000 --max-memory 2GB --gateway gw.example.com:8443
    /// </summary>
    /// <param name="port">TCP port for libp2p on all interfaces (default 9000).</param>
    /// <param name="listen">Listen multiaddr instead of --port, e.g. /ip4/127.0.0.1/tcp/9000; repeat for several.</param>
    /// <param name="maxCpu">CPU cap for all deployments together, in millicores (default 4000).</param>
    /// <param name="maxMemory">Memory cap for all deployments together (default 4GB).</param>
    /// <param name="maxDeploys">Maximum number of deployments (default 10).</param>
    /// <param name="gateway">Gateway tunnel address HOST:PORT for public HTTPS URLs (default none); repeat for several gateways of one domain: each gets its own tunnel and serves every deployment.</param>
    /// <param name="gatewayCa">PEM file of the CA that signed the gateway's certificate (default: system roots).</param>
    /// <param name="gatewayPin">The gateway's key pin as 'gateway pin' prints it (sha256//BASE64 of its public key; 64 hex digits also accepted), instead of CA checks: --gateway-pin $(gateway pin) for a self-signed gateway. Once for all gateways, or once per --gateway in the same order.</param>
    /// <param name="noMdns">Do not announce this provider on the local network.</param>
    /// <param name="egress">filtered (default: containers reach the internet, not this host, private, link-local or metadata addresses) or open (no filtering).</param>
    /// <param name="allowEgress">A range containers may reach although filtered, e.g. 192.168.1.20/32; repeat for several.</param>
    /// <param name="allowRegistry">A registry HOST or HOST:PORT images may be pulled from although it is on a loopback, private or link-local address (refused by default), e.g. 127.0.0.1:5000; repeat for several.</param>
    /// <param name="statusLogBytes">Last-log bytes one stopped deployment's status carries, as sent after JSON escaping (default 16KiB; newest lines kept).</param>
    /// <param name="statusLogBytesTotal">Last-log bytes one status response carries for all deployments together (default 256KiB).</param>
    /// <param name="maxWritableSize">Size cap of a deployment's writable layer, where --writable roots write (default 1GiB); enforced by the storage driver.</param>
    /// <param name="maxImageSize">Largest image, unpacked, a deployment may run (default 8GiB); a bigger one is refused.</param>
    /// <param name="allowUnboundedWritable">Run --writable deployments although the storage driver cannot cap them (overlay2 on ext4): they can fill Docker's disk.</param>
    /// <param name="maxConnections">libp2p connections at once, in their handshake or open (default 128); what strangers cannot take is kept for trusted peers.</param>
    /// <param name="maxUntrustedConnections">Open connections of peers not in the trust list (default 48); one more is closed after its handshake.</param>
    /// <param name="maxUntrustedConnectionsPerAddress">Of those, from one IPv4 address or IPv6 /64 (default 4).</param>
    /// <param name="maxHandshakes">Connections still in their handshake, before the peer's key is known (default 32); one more takes the place of the oldest.</param>
    /// <param name="maxHandshakesPerAddress">Of those, from one IPv4 address or IPv6 /64 (default 16: parallel peerctl commands from one machine or NAT come in bursts).</param>
    /// <param name="handshakeTimeout">Seconds a new connection's handshake may take (default 10).</param>
    /// <param name="untrustedIdleTimeout">Seconds an untrusted peer's connection may stay without an open stream before it is closed (default 30).</param>
    /// <param name="maxUntrustedPeers">Untrusted peers whose addresses are remembered (default 256; the one heard from longest ago goes first).</param>
    /// <param name="relay">A libp2p relay to stay reachable through (besides the gateway's own, which --gateway uses by itself), e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…; repeat for several.</param>
    /// <param name="statusPort">Serve a status page (deployments, use against caps, tunnels, refused requests) on http://127.0.0.1:PORT/ (default none).</param>
    /// <param name="restartBackoffMax">Longest wait, in seconds, before a crash-looping deployment is started again (default 300): the wait doubles from 0.5 s after each exit that follows a short run, up to this.</param>
    /// <param name="maxStorage">Sum of the sizes of all volumes (default 10GB); each volume holds its whole size from creation until removed.</param>
    /// <param name="defaultVolumeSize">Size of a volume asked for without one, --volume NAME:/path (default 1GB).</param>
    /// <param name="volumesFolder">Where volume files (sparse ext4 images) and their mounts live (default provider/volumes in the home).</param>
    /// <param name="previousLogsSize">Bytes of a replaced container's log kept per deployment for 'peerctl logs --previous' (default 4MiB; its last lines; 0 keeps none).</param>
    /// <param name="revisionHistory">Revisions kept per deployment for 'peerctl history' and 'rollback' (default 10).</param>
    /// <param name="updateDrainTimeout">Seconds a container replaced by an update may take to finish the connections it serves before it is stopped (default 30).</param>
    /// <param name="config">Config file (default $PEERCOMPUTE_HOME/peercomputed.json).</param>
    /// <param name="logFormat">text (one line per event) or json.</param>
    [Command("")]
    public async Task<int> Run(
        int? port = null,
        RepeatedOption? listen = null,
        string? maxCpu = null,
        string? maxMemory = null,
        int? maxDeploys = null,
        RepeatedOption? gateway = null,
        string? gatewayCa = null,
        RepeatedOption? gatewayPin = null,
        bool noMdns = false,
        string? egress = null,
        RepeatedOption? allowEgress = null,
        string? statusLogBytes = null,
        string? statusLogBytesTotal = null,
        RepeatedOption? allowRegistry = null,
        string? maxWritableSize = null,
        string? maxImageSize = null,
        bool allowUnboundedWritable = false,
        int? maxConnections = null,
        int? maxUntrustedConnections = null,
        int? maxUntrustedConnectionsPerAddress = null,
        int? maxHandshakes = null,
        int? maxHandshakesPerAddress = null,
        int? handshakeTimeout = null,
        int? untrustedIdleTimeout = null,
        int? maxUntrustedPeers = null,
        RepeatedOption? relay = null,
        int? statusPort = null,
        double? restartBackoffMax = null,
        string? maxStorage = null,
        string? defaultVolumeSize = null,
        string? volumesFolder = null,
        string? previousLogsSize = null,
        int? revisionHistory = null,
        int? updateDrainTimeout = null,
        string? config = null,
        string? logFormat = null,
        CancellationToken cancellationToken = default)
    {
        var home = PeerComputeHome.Resolve();
        ProviderConfig effective;
        try
        {
            string path = config ?? Path.Combine(home.Path, ProviderConfig.FileName);
            effective = ProviderConfig.Load(path, required: config is not null).Apply(new ProviderConfigFile(
                port, listen?.Values, maxCpu, maxMemory, maxDeploys, gateway?.Values, gatewayCa, gatewayPin?.Values, noMdns ? true : null, logFormat,
                egress, allowEgress?.Values, statusLogBytes, statusLogBytesTotal, allowRegistry?.Values, maxWritableSize, maxImageSize, allowUnboundedWritable ? true : null,
                MaxConnections: maxConnections, MaxUntrustedConnections: maxUntrustedConnections,
                MaxUntrustedConnectionsPerAddress: maxUntrustedConnectionsPerAddress, MaxHandshakes: maxHandshakes,
                MaxHandshakesPerAddress: maxHandshakesPerAddress, HandshakeTimeout: handshakeTimeout,
                UntrustedIdleTimeout: untrustedIdleTimeout, MaxUntrustedPeers: maxUntrustedPeers, Relay: relay?.Values, StatusPort: statusPort, RestartBackoffMax: restartBackoffMax,
                MaxStorage: maxStorage, DefaultVolumeSize: defaultVolumeSize, VolumesFolder: volumesFolder,
                PreviousLogsSize: previousLogsSize, RevisionHistory: revisionHistory, UpdateDrainTimeout: updateDrainTimeout), "the command line");
            if (effective.ConnectionLimitsProblem is { } problem)
                throw new ConfigException(problem + ".");
            if (effective.GatewayPinsProblem is { } pinsProblem)
                throw new ConfigException(pinsProblem + ".");
            foreach (string address in effective.Listen)
            {
                if (!Core.Multiformats.Multiaddr.TryParse(address, out var parsed, out string? error) || !parsed.TryGetTcpTarget(out _, out _))
                    throw new ConfigException($"--listen {address}: {error ?? "expected /ip4/ADDRESS/tcp/PORT"}");
            }
        }
        catch (ConfigException ex)
        {
            throw new UsageException(ex.Message);
        }

        PeerIdentity identity;
        try
        {
            identity = IdentityStore.Load(home);
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message);
        }
        using (identity)
        using (var loggers = Logging.Create(effective.LogFormat))
        {
            try
            {
                return await ProviderDaemon.RunAsync(effective, home, identity, loggers, cancellationToken).ConfigureAwait(false);
            }
            catch (PeerCompute.Runtime.RuntimeException ex)
            {
                throw new CliException($"{ex.Message}");
            }
        }
    }

    /// <summary>Show the egress rules installed for the provider's network (iptables and ip6tables); needs root.</summary>
    [Command("firewall show")]
    public async Task FirewallShow(CancellationToken cancellationToken = default)
    {
        var firewall = new PeerCompute.Runtime.Firewall.EgressFirewall(new PeerCompute.Runtime.RuntimeOptions().NetworkName, new PeerCompute.Runtime.Firewall.EgressOptions());
        var lines = await RunFirewallAsync(() => firewall.ShowAsync(cancellationToken)).ConfigureAwait(false);
        if (lines.Count == 0)
            Console.Out.WriteLine($"no egress rules installed (chain {firewall.Chain})");
        foreach (string line in lines)
            Console.Out.WriteLine(line);
    }

    /// <summary>
    /// Install (or refresh) the egress rules from the config file's egress settings, as the daemon does at start; needs root.
    /// </summary>
    /// <param name="config">Config file (default $PEERCOMPUTE_HOME/peercomputed.json).</param>
    [Command("firewall apply")]
    public async Task FirewallApply(string? config = null, CancellationToken cancellationToken = default)
    {
        var home = PeerComputeHome.Resolve();
        ProviderConfig effective;
        try
        {
            effective = ProviderConfig.Load(config ?? Path.Combine(home.Path, ProviderConfig.FileName), required: config is not null);
        }
        catch (ConfigException ex)
        {
            throw new UsageException(ex.Message);
        }
        if (effective.EgressOpen)
        {
            // Not an error: a boot-time unit runs this whatever the setting.
            Console.Out.WriteLine("egress is open in the config: no rules to install ('peercomputed firewall remove' takes old ones away)");
            return;
        }
        var firewall = new PeerCompute.Runtime.Firewall.EgressFirewall(new PeerCompute.Runtime.RuntimeOptions().NetworkName, effective.Egress);
        bool changed = await RunFirewallAsync(() => firewall.EnsureAsync(cancellationToken)).ConfigureAwait(false);
        Console.Out.WriteLine(changed ? $"egress rules installed (chain {firewall.Chain})" : $"egress rules already in place (chain {firewall.Chain})");
        try
        {
            await firewall.VerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PeerCompute.Runtime.RuntimeException ex)
        {
            // Not an error here: before the engine starts (a boot-time unit), FORWARD has no jump to DOCKER-USER yet.
            Console.Out.WriteLine($"note: {ex.Message}; the daemon refuses deploys while this holds (expected until the Docker engine has started)");
        }
    }

    /// <summary>
    /// Remove the egress rules (uninstall). A running peercomputed puts them back within a minute: stop it first.
    /// </summary>
    [Command("firewall remove")]
    public async Task FirewallRemove(CancellationToken cancellationToken = default)
    {
        var firewall = new PeerCompute.Runtime.Firewall.EgressFirewall(new PeerCompute.Runtime.RuntimeOptions().NetworkName, new PeerCompute.Runtime.Firewall.EgressOptions());
        bool removed = await RunFirewallAsync(() => firewall.RemoveAsync(cancellationToken)).ConfigureAwait(false);
        Console.Out.WriteLine(removed ? $"egress rules removed (chain {firewall.Chain})" : "no egress rules were installed");
    }

    private static async Task<T> RunFirewallAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (PeerCompute.Runtime.RuntimeException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>
    /// Print a one-line invite for the running provider (its PeerId, name and current direct and relayed addresses, signed
    /// with its key); whoever gets it runs: peerctl peers add INVITE. Asks the running daemon through its owner-only
    /// control socket, so run it as the daemon's user.
    /// </summary>
    /// <param name="name">The name to suggest (default: this machine's hostname).</param>
    /// <param name="expires">How long the invite is valid: 30m, 12h, 7d (default 7d, at most 365d).</param>
    /// <param name="json">Print {"invite","peerId","name","addrs","expires"} as JSON.</param>
    [Command("invite")]
    public async Task Invite(string? name = null, string? expires = null, bool json = false, CancellationToken cancellationToken = default)
    {
        var lifetime = InviteCli.ParseLifetime(expires);
        if (name is not null && !Core.Trust.TrustStore.IsValidName(name))
            throw new UsageException($"--name {name}: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.");
        var home = PeerComputeHome.Resolve();
        var answer = await ControlClient.RequestInviteAsync(home, cancellationToken).ConfigureAwait(false);
        PeerIdentity identity;
        try
        {
            identity = IdentityStore.Load(home);
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message);
        }
        using (identity)
        {
            // The daemon could run with another key (PEERCOMPUTE_IDENTITY_KEY in its unit): an invite must name the daemon that answers.
            if (identity.PeerId.ToString() != answer.PeerId)
                throw new CliException($"The running peercomputed is {answer.PeerId}, but the identity here is {identity.PeerId}: run this with the daemon's identity (its PEERCOMPUTE_HOME or PEERCOMPUTE_IDENTITY_KEY).");
            Core.Trust.Invite invite;
            try
            {
                invite = Core.Trust.Invite.Create(identity, name ?? HostName(), [.. answer.Addrs.Select(Core.Multiformats.Multiaddr.Parse)], DateTimeOffset.UtcNow, lifetime);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                throw new CliException($"Cannot make an invite: {ex.Message}");
            }
            InviteCli.Print(invite, json, "Send it to the person this provider should serve; they run: peerctl peers add <invite>. Then add them here with their own invite (peerctl invite on their machine): peerctl peers add <their invite>.");
        }
    }

    /// <summary>This machine's hostname as a trust-list name (its first label when the whole is not one), or none.</summary>
    private static string? HostName()
    {
        string host = Environment.MachineName;
        if (Core.Trust.TrustStore.IsValidName(host))
            return host;
        string first = host.Split('.')[0];
        return Core.Trust.TrustStore.IsValidName(first) ? first : null;
    }

    /// <summary>Print the provider's PeerId (from $PEERCOMPUTE_HOME/identity.key, created by 'peerctl init').</summary>
    [Command("id")]
    public void Id()
    {
        try
        {
            using var identity = IdentityStore.Load(PeerComputeHome.Resolve());
            Console.Out.WriteLine(identity.PeerId.ToString());
        }
        catch (IdentityException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}

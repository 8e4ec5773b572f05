using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Resources;
using PeerCompute.Core.Storage;
using PeerCompute.Daemon.Configuration;
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
    /// <param name="gateway">Gateway tunnel address HOST:PORT for public HTTPS URLs (default none).</param>
    /// <param name="gatewayCa">PEM file of the CA that signed the gateway's certificate (default: system roots).</param>
    /// <param name="gatewayPin">SHA-256 of the gateway certificate, hex, instead of CA checks.</param>
    /// <param name="noMdns">Do not announce this provider on the local network.</param>
    /// <param name="config">Config file (default $PEERCOMPUTE_HOME/peercomputed.json).</param>
    /// <param name="logFormat">text (one line per event) or json.</param>
    [Command("")]
    public async Task<int> Run(
        int? port = null,
        RepeatedOption? listen = null,
        string? maxCpu = null,
        string? maxMemory = null,
        int? maxDeploys = null,
        string? gateway = null,
        string? gatewayCa = null,
        string? gatewayPin = null,
        bool noMdns = false,
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
                port, listen?.Values, maxCpu, maxMemory, maxDeploys, gateway, gatewayCa, gatewayPin, noMdns ? true : null, logFormat), "the command line");
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

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Compose;
using PeerCompute.Core.Protocol;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>Apps from a Compose file: each service one deployment (APP-SERVICE) on the app's own network.</summary>
internal sealed partial class DeploymentCommands
{
    /// <summary>
    /// Deploy the services of a Compose file as one app, each after the services it depends on. Services reach each
    /// other by service name on the app's own network; a service with ports gets its own URL, the others none.
    /// Up again with a changed file updates each service in the same order (same deployments, URLs and volumes).
    /// Anything in the file outside the supported subset is refused with its line. Example: peerctl up -f compose.yaml --name shop
    /// </summary>
    /// <param name="file">-f, The Compose file (default compose.yaml).</param>
    /// <param name="name">App name (default: the file's top-level name, else its folder); each service deploys as NAME-SERVICE.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"app","provider","providerName","services":[as deploy --json prints, with "updated" and "revision" for an update],"via"}.</param>
    [Command("up")]
    public async Task Up(string file = "compose.yaml", string? name = null, string? peer = null, bool json = false, CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the Compose file {file}: {ex.Message}");
        }
        string appName;
        IReadOnlyList<DeployRequest> requests;
        try
        {
            var app = ComposeParser.Parse(text, file);
            ComposeRuntimeGaps.Refuse(app, file);
            appName = AppRequests.NameFor(app, name, file);
            requests = AppRequests.For(app, appName);
        }
        catch (ComposeException ex)
        {
            throw new CliException(ex.Message, ExitCodes.Usage, "invalid_compose");
        }

        await WithProviderAsync(peer, json, replyTimeout: null, async (session, _) =>
        {
            var deployed = new List<DeployOutput>();
            try
            {
                foreach (var template in requests)
                {
                    var request = template with { Timestamp = RequestSigning.Now(), Nonce = RequestSigning.NewNonce() };
                    DeployResponse response;
                    try
                    {
                        response = await session.Client.DeployAsync(request, new PullDisplay(), cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        Console.Error.Flush();
                    }
                    deployed.Add(new DeployOutput(response.Id, response.Name, response.Provider, session.Target.DisplayName, response.State, response.LocalUrl, response.PublicUrl, response.CpuMillicores, response.MemoryBytes, session.Via,
                        response.Revision, response.Updated));
                    if (json)
                        continue;
                    string revision = response.Updated && response.Revision is { } r ? $" to revision {r}" : "";
                    Console.Out.WriteLine($"{(response.Updated ? "Updated" : "Started")} {Show(response.Name)} ({Show(response.Id)}){revision}: {Show(response.State)}");
                    if (response.PublicUrl is { } publicUrl)
                        Console.Out.WriteLine($"  public: {Show(publicUrl)}");
                    if (!string.IsNullOrEmpty(response.LocalUrl))
                        Console.Out.WriteLine($"  local:  {Show(response.LocalUrl)}  (on the provider's machine)");
                }
            }
            catch (Exception) when (deployed.Count > 0 && NoteStarted(appName, deployed))
            {
                throw; // never reached: the filter only notes what stays deployed
            }
            if (json)
                JsonOut.Write(new AppOutput(appName, session.Target.PeerId.ToString(), session.Target.DisplayName, deployed, session.Via), CliJsonContext.Default.AppOutput);
            else
                Console.Out.WriteLine($"App {Show(appName)} is up on {session.Target.DisplayName}: {deployed.Count} service(s).");
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Remove an app's services (every deployment of yours made by up with that app name). Volumes are kept: the next up finds their data; peerctl volume rm APP-VOLUME removes one.</summary>
    /// <param name="app">APP: The app's name.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"app","removed":[{"id","name","state","via"}],"via"}.</param>
    /// <param name="timeout">Seconds to wait for each answer once connected (default 60).</param>
    [Command("down")]
    public async Task Down([Argument] string app, string? peer = null, bool json = false, int timeout = DefaultStopTimeoutSeconds, CancellationToken cancellationToken = default)
    {
        var limit = ReplyTimeout(timeout);
        await WithProviderAsync(peer, json, replyTimeout: null, async (session, _) =>
        {
            StatusResponse status;
            using (var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                reply.CancelAfter(limit);
                try
                {
                    status = await session.Client.StatusAsync(app, reply.Token).ConfigureAwait(false);
                }
                catch (Client.ProviderRefusedException ex) when (ex.Code == ErrorCodes.NotFound)
                {
                    throw new CliException($"No app '{app}' of yours on {session.Target.DisplayName}.", code: ErrorCodes.NotFound);
                }
            }
            var services = status.Deployments.Where(d => d.App == app).OrderByDescending(d => d.CreatedAt).ToList();
            if (services.Count == 0)
                throw new CliException($"No app '{app}' of yours on {session.Target.DisplayName}.", code: ErrorCodes.NotFound);
            var removed = new List<StopOutput>();
            // Dependents first: the reverse of the order up started them in.
            foreach (var service in services)
            {
                using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                reply.CancelAfter(limit);
                var stopped = await session.Client.StopAsync(service.Id, reply.Token).ConfigureAwait(false);
                removed.Add(new StopOutput(stopped.Id, stopped.Name, stopped.State, session.Via));
                if (!json)
                    Console.Out.WriteLine($"Removed {Show(stopped.Name)} ({Show(stopped.Id)})");
            }
            if (json)
                JsonOut.Write(new AppDownOutput(app, removed, session.Via), CliJsonContext.Default.AppDownOutput);
            else
                Console.Out.WriteLine($"App {Show(app)} is down (its network went with it; volumes are kept).");
        }, cancellationToken).ConfigureAwait(false);
    }

    private static bool NoteStarted(string app, List<DeployOutput> deployed)
    {
        Console.Error.WriteLine($"Started before the failure, still deployed: {string.Join(", ", deployed.Select(d => Show(d.Name)))}. `peerctl down {Show(app)}` removes them.");
        return false;
    }
}

using System.Globalization;
using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Resources;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Ctl.Client;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>Deployments on trusted providers.</summary>
internal sealed partial class DeploymentCommands
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long status waits for the provider's answer once connected (--timeout, seconds).</summary>
    public const int DefaultStatusTimeoutSeconds = 30;

    /// <summary>How long stop waits: the provider stops the container gracefully first, so longer (--timeout, seconds).</summary>
    public const int DefaultStopTimeoutSeconds = 60;

    /// <summary>The words after "--" on the command line (the framework does not pass them through).</summary>
    public static string[]? ContainerCommand { get; set; }

    /// <summary>
    /// Run an image on a trusted provider and print its URL(s). Words after "--" replace the image's command.
    /// Examples: peerctl deploy ghcr.io/sam/app:1.4 --peer maya --port 8080 --memory 256MB --env MODE=prod
    /// peerctl deploy busybox --port 8080 -- httpd -f -p 8080
    /// </summary>
    /// <param name="image">IMAGE: Image reference (name:tag or name@sha256:digest).</param>
    /// <param name="peer">Provider name or PeerId from your trust list (optional with one provider).</param>
    /// <param name="name">Deployment name (default: from the image).</param>
    /// <param name="cpu">CPU cores: 500m, 0.5 or 2.</param>
    /// <param name="memory">Memory: 256MB, 1GiB, 512m.</param>
    /// <param name="port">A container port number, e.g. 8080: the one the app listens on, served at the deployment's URLs (default: the one port the image declares with EXPOSE; with none, 80).</param>
    /// <param name="env">KEY=VALUE environment variable; repeat for several.</param>
    /// <param name="writable">Give the container a writable root filesystem (default read-only, with a writable /tmp); the provider caps its size, or refuses it (writable_unbounded) where its storage cannot.</param>
    /// <param name="json">Print one JSON object: id, name, provider, providerName, state, localUrl, publicUrl, cpuMillicores, memoryBytes, via (direct or relay).</param>
    /// <param name="volume">NAME:/path[:SIZE]: mount your named volume NAME at /path, created on first use with SIZE (default: the provider's, 1GB), kept until `peerctl volume rm NAME`; repeat for several. NAME is never a host path.</param>
    /// <param name="noWait">Answer once the container started, without waiting for its port to answer (by default a port that does not answer within 15 s is an error, not_answering; the deployment stays either way).</param>
    /// <param name="healthHttp">PATH: the provider checks the deployment with GET PATH on its port (2xx or 3xx is healthy), e.g. /healthz; the deploy also waits for it to pass before it prints the URL.</param>
    /// <param name="healthTcp">The provider checks the deployment by connecting to its port.</param>
    /// <param name="healthInterval">Time between health checks (default 10s): 500ms, 10s, 1m.</param>
    /// <param name="healthTimeout">Longest one health check may take (default 3s).</param>
    /// <param name="healthRetries">Failed checks in a row that make it unhealthy (default 3).</param>
    /// <param name="healthStartPeriod">After each start, failed checks in this period do not count (default 0s).</param>
    /// <param name="restart">When the process exits: unless-stopped (default: always restart, with a growing wait while it keeps crashing), on-failure (only after a non-zero exit) or no.</param>
    /// <param name="strategy">When you already have a deployment of that --name on the provider, this deploy updates it (same id and URL): rolling (default: the new container starts beside the old one and takes the route once it answers; a new one that fails leaves the old one serving, update_failed) or recreate (the old one stops first).</param>
    /// <param name="access">Who may open the public URL: public (default), private (only with a link from peerctl url, signed by you) or basic (a user name and password; see --basic-user).</param>
    /// <param name="domain">A custom domain of yours (www.example.org) to serve this deployment at too: point a CNAME from it to the deployment's hostname (name-tag.DOMAIN); the gateway checks it, obtains its certificate and serves it. Repeat for several (at most 8).</param>
    /// <param name="basicUser">The user name for --access basic. The password is read from $PEERCTL_BASIC_PASSWORD, else from standard input, else asked for; only its PBKDF2 hash leaves this machine.</param>
    [Command("deploy")]
    public async Task Deploy([Argument] string image, string? peer = null, string? name = null, string cpu = "500m", string memory = "256MB",
        int? port = null, RepeatedOption? env = null, bool writable = false, bool json = false, bool noWait = false,
        string? healthHttp = null, bool healthTcp = false, string? healthInterval = null, string? healthTimeout = null, int? healthRetries = null,
        string? healthStartPeriod = null, string? restart = null, RepeatedOption? volume = null, string? strategy = null, string access = "public", string? basicUser = null, RepeatedOption? domain = null, CancellationToken cancellationToken = default)
    {
        if (!AccessModes.TryParse(access, out var accessMode))
            throw new UsageException($"--access '{access}' is not public, private or basic.");
        if (accessMode == AccessMode.Basic && !RouteAccess.IsValidBasicUser(basicUser))
            throw new UsageException(basicUser is null ? "--access basic needs --basic-user NAME." : $"--basic-user '{basicUser}' must be 1-{RouteAccess.MaxBasicUserLength} printable characters without ':' or spaces.");
        if (accessMode != AccessMode.Basic && basicUser is not null)
            throw new UsageException("--basic-user goes with --access basic.");
        string? passwordHash = accessMode == AccessMode.Basic ? PasswordHash.Create(BasicPassword.Read()) : null;
        if (strategy is not (null or DeployRequest.StrategyRolling or DeployRequest.StrategyRecreate))
            throw new UsageException($"--strategy '{strategy}': expected {DeployRequest.StrategyRolling} or {DeployRequest.StrategyRecreate}.");
        if (healthHttp is not null && healthTcp)
            throw new UsageException("--health-http and --health-tcp: choose one.");
        if (healthHttp is not null && (healthHttp.Length == 0 || healthHttp[0] != '/'))
            throw new UsageException($"--health-http '{healthHttp}' is not a path (example: /healthz).");
        bool healthTuned = healthInterval is not null || healthTimeout is not null || healthRetries is not null || healthStartPeriod is not null;
        if (healthTuned && healthHttp is null && !healthTcp)
            throw new UsageException("--health-interval, --health-timeout, --health-retries and --health-start-period need --health-http PATH or --health-tcp.");
        if (healthRetries is < 1)
            throw new UsageException($"--health-retries {healthRetries}: expected 1 or more.");
        long? intervalMs = Duration(healthInterval, "--health-interval");
        long? timeoutMs = Duration(healthTimeout, "--health-timeout");
        long? startPeriodMs = Duration(healthStartPeriod, "--health-start-period");
        if (restart is not null and not ("no" or "on-failure" or "unless-stopped"))
            throw new UsageException($"--restart '{restart}': expected no, on-failure or unless-stopped.");
        if (!Quantities.TryParseMillicores(cpu, out int millicores))
            throw new UsageException($"--cpu '{cpu}' is not a CPU amount (examples: 500m, 0.5, 2).");
        if (!Quantities.TryParseBytes(memory, out long bytes))
            throw new UsageException($"--memory '{memory}' is not a size (examples: 256MB, 1GiB, 512m).");
        if (port is <= 0 or > 65535)
            throw new UsageException($"--port {port} is not a port (1-65535).");
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in env?.Values ?? [])
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0)
                throw new UsageException($"--env '{pair}' is not KEY=VALUE.");
            variables[pair[..eq]] = pair[(eq + 1)..];
        }
        var domains = new List<string>();
        foreach (string text in domain?.Values ?? [])
        {
            string customDomain = PeerCompute.Core.Protocol.CustomDomain.Normalize(text);
            if (!PeerCompute.Core.Protocol.CustomDomain.IsValid(customDomain))
                throw new UsageException($"--domain '{text}' is not a domain name such as www.example.org (labels of a-z, 0-9 and '-', at least one dot).");
            if (!domains.Contains(customDomain))
                domains.Add(customDomain);
        }
        if (domains.Count > PeerCompute.Core.Protocol.CustomDomain.MaxPerDeployment)
            throw new UsageException($"--domain is given {domains.Count} times; at most {PeerCompute.Core.Protocol.CustomDomain.MaxPerDeployment}.");
        var volumes = new List<string>();
        foreach (string text in volume?.Values ?? [])
        {
            int colon = text.IndexOf(':');
            // Refused here too (the provider refuses it anyway): a host path looks like one, and a person should hear why at once.
            if (colon <= 0 || text[..colon].Contains('/') || text[..colon].Contains('.'))
                throw new UsageException($"--volume '{text}' is not NAME:/path[:SIZE] with a volume NAME of yours (host paths are never mounted), e.g. --volume data:/var/lib/app:1GB.");
            volumes.Add(text);
        }

        await WithProviderAsync(peer, json, replyTimeout: null, async (session, _) =>
        {
            var request = new DeployRequest(image, RequestSigning.Now(), RequestSigning.NewNonce(), name, millicores, bytes, port, variables, ContainerCommand is { Length: > 0 } command ? command : null, writable, NoWait: noWait,
                HealthHttp: healthHttp, HealthTcp: healthTcp, HealthIntervalMs: intervalMs, HealthTimeoutMs: timeoutMs, HealthRetries: healthRetries,
                HealthStartPeriodMs: startPeriodMs, Restart: restart, Volumes: volumes.Count > 0 ? volumes : null,
                Strategy: strategy, Access: accessMode == AccessMode.Public ? null : accessMode.ToText(), BasicUser: basicUser, BasicPasswordHash: passwordHash, Domains: domains.Count > 0 ? domains : null);
            await SendDeployAsync(session, request, json, cancellationToken, accessMode, basicUser).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Return a deployment to its previous revision's image and settings (the same way an update goes: rolling unless
    /// --strategy recreate). The id and URL stay. Example: peerctl rollback web
    /// </summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="strategy">rolling (default) or recreate.</param>
    /// <param name="json">Print the same object as deploy --json.</param>
    [Command("rollback")]
    public async Task Rollback([Argument] string deployment, string? peer = null, string? strategy = null, bool json = false, CancellationToken cancellationToken = default)
    {
        if (strategy is not (null or DeployRequest.StrategyRolling or DeployRequest.StrategyRecreate))
            throw new UsageException($"--strategy '{strategy}': expected {DeployRequest.StrategyRolling} or {DeployRequest.StrategyRecreate}.");
        await WithProviderAsync(peer, json, replyTimeout: null, async (session, _) =>
        {
            var request = new DeployRequest("", RequestSigning.Now(), RequestSigning.NewNonce(), deployment, Strategy: strategy, Rollback: true);
            await SendDeployAsync(session, request, json, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>List a deployment's revisions, oldest first: revision, image and its digest, time, result (running, replaced, failed, rolled-back).</summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"id","name","provider","providerName","revisions":[{"revision","image","imageDigest","time","result","reason","rollbackOf"}],"via"}.</param>
    /// <param name="timeout">Seconds to wait for the provider's answer once connected (default 30).</param>
    [Command("history")]
    public async Task History([Argument] string deployment, string? peer = null, bool json = false, int timeout = DefaultStatusTimeoutSeconds, CancellationToken cancellationToken = default)
    {
        await WithProviderAsync(peer, json, ReplyTimeout(timeout), async (session, replyToken) =>
        {
            var status = await session.Client.StatusAsync(deployment, replyToken, history: true).ConfigureAwait(false);
            var d = status.Deployments.Single();
            var revisions = d.Revisions ?? [];
            if (json)
            {
                JsonOut.Write(new HistoryOutput(d.Id, d.Name, status.Provider, session.Target.DisplayName, revisions, session.Via), CliJsonContext.Default.HistoryOutput);
                return;
            }
            WriteTable(["REVISION", "IMAGE", "DIGEST", "TIME", "RESULT"], [.. revisions.Select(r => new[]
            {
                r.Revision.ToString(CultureInfo.InvariantCulture), r.Image, ShortDigest(r.ImageDigest),
                r.Time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                r.Result + (r.RollbackOf is { } of ? $" (rollback to {of})" : "") + (r.Reason is { } why ? $": {why}" : ""),
            }.Select(Show).ToArray())]);
        }, cancellationToken).ConfigureAwait(false);
    }

    private static string ShortDigest(string? digest) => digest is null ? "-" : digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length > 19 ? digest[..19] : digest;

    private static async Task SendDeployAsync(ProviderSession session, DeployRequest request, bool json, CancellationToken cancellationToken,
        AccessMode access = AccessMode.Public, string? basicUser = null)
    {
        var progress = new PullDisplay();
        DeployResponse response;
        try
        {
            response = await session.Client.DeployAsync(request, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Console.Error.Flush();
        }
        if (json)
        {
            JsonOut.Write(new DeployOutput(response.Id, response.Name, response.Provider, session.Target.DisplayName, response.State, response.LocalUrl, response.PublicUrl, response.CpuMillicores, response.MemoryBytes, session.Via,
                response.Revision, response.Updated), CliJsonContext.Default.DeployOutput);
            return;
        }
        string what = !response.Updated ? "Deployed" : request.Rollback ? "Rolled back" : "Updated";
        string revision = response.Updated && response.Revision is { } r ? $" to revision {r}" : "";
        Console.Out.WriteLine($"{what} {Show(response.Name)} ({Show(response.Id)}){revision} on {session.Target.DisplayName}: {Show(response.State)}");
        if (response.PublicUrl is { } publicUrl)
            Console.Out.WriteLine($"  public: {Show(publicUrl)}{access switch
            {
                AccessMode.Private => $"  (private: open it with the link from peerctl url {Show(response.Name)})",
                AccessMode.Basic => $"  (user {Show(basicUser!)} and your password)",
                _ => "",
            }}");
        if (!string.IsNullOrEmpty(response.LocalUrl))
            Console.Out.WriteLine($"  local:  {Show(response.LocalUrl)}  (on the provider's machine)");
    }

    /// <summary>
    /// Print a link to a private deployment: its public URL with a token signed by your identity, valid for this
    /// deployment's hostname until it expires. Whoever opens it gets a cookie for that hostname; the link itself is
    /// the secret, so share it as one. Examples: peerctl url web --expires 2h
    /// </summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="expires">How long the link works: 90s, 30m, 2h, 7d (at most 366d; default 24h).</param>
    /// <param name="json">Print {"name","url","expires"}.</param>
    [Command("url")]
    public async Task Url([Argument] string deployment, string? peer = null, string expires = "24h", bool json = false, CancellationToken cancellationToken = default)
    {
        if (!TryParseLifetime(expires, out var lifetime) || lifetime <= TimeSpan.Zero || lifetime > UrlToken.MaxLifetime)
            throw new UsageException($"--expires '{expires}' is not a lifetime up to 366d (examples: 90s, 30m, 2h, 7d).");
        await WithProviderAsync(peer, json, ReplyTimeout(DefaultStatusTimeoutSeconds), async (session, replyToken) =>
        {
            var status = await session.Client.StatusAsync(deployment, replyToken).ConfigureAwait(false);
            var found = status.Deployments.FirstOrDefault() ?? throw Fail(json, ErrorCodes.NotFound, $"no deployment {deployment} on {session.Target.DisplayName}");
            if (found.PublicUrl is not { } publicUrl)
                throw Fail(json, "no_public_url", $"{Show(found.Name)} has no public URL now (it is {Show(found.State)}, or its provider has no gateway connected).");
            if (!AccessModes.TryParse(found.Access, out var mode) || mode != AccessMode.Private)
                throw Fail(json, "not_private", mode == AccessMode.Basic
                    ? $"{Show(found.Name)} is opened with its user name and password, not a link: {Show(publicUrl)}"
                    : $"{Show(found.Name)} is public and needs no link: {Show(publicUrl)}");
            var until = DateTimeOffset.UtcNow + lifetime;
            var uri = new Uri(publicUrl);
            PeerIdentity identity;
            try
            {
                identity = IdentityStore.Load(PeerComputeHome.Resolve());
            }
            catch (IdentityException ex)
            {
                throw Fail(json, "local_setup", ex.Message);
            }
            string link;
            using (identity)
                link = new UriBuilder(uri) { Query = UrlToken.QueryParameter + "=" + UrlToken.Create(identity, uri.Host, until) }.Uri.AbsoluteUri;
            if (json)
                JsonOut.Write(new UrlOutput(found.Name, link, until), CliJsonContext.Default.UrlOutput);
            else
                Console.Out.WriteLine(link);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>90s, 30m, 2h, 7d.</summary>
    internal static bool TryParseLifetime(string text, out TimeSpan lifetime)
    {
        lifetime = default;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long count) || count > 1_000_000)
            return false;
        lifetime = char.ToLowerInvariant(text[^1]) switch
        {
            's' => TimeSpan.FromSeconds(count),
            'm' => TimeSpan.FromMinutes(count),
            'h' => TimeSpan.FromHours(count),
            'd' => TimeSpan.FromDays(count),
            _ => TimeSpan.MinValue,
        };
        return lifetime != TimeSpan.MinValue;
    }

    /// <summary>
    /// List your deployments (like docker ps), or show one. Without --peer, every trusted provider with an address is
    /// asked: one table with a PROVIDER column; a provider that cannot be asked is a row with its error, and the exit
    /// code is 1 only if none answered.
    /// </summary>
    /// <param name="deployment">DEPLOYMENT: A deployment name or id, or an app's name (its services).</param>
    /// <param name="peer">Provider name or PeerId (optional: default all trusted providers).</param>
    /// <param name="json">Print {"provider","providerName","deployments":[...],"capacity":{...},"via"}; for several providers {"providers":[that, or {"provider","providerName","error":{"code","message"}}]}.</param>
    /// <param name="timeout">Seconds to wait for the provider's answer once connected (default 30).</param>
    [Command("status")]
    public async Task Status([Argument] string? deployment = null, string? peer = null, bool json = false, int timeout = DefaultStatusTimeoutSeconds, CancellationToken cancellationToken = default)
    {
        if (peer is null && TrustedProviders() is { Count: > 1 } all)
        {
            await StatusOfAllAsync(all, deployment, json, ReplyTimeout(timeout), cancellationToken).ConfigureAwait(false);
            return;
        }
        await WithProviderAsync(peer, json, ReplyTimeout(timeout), async (session, replyToken) =>
        {
            var status = await session.Client.StatusAsync(deployment, replyToken).ConfigureAwait(false);
            if (json)
            {
                JsonOut.Write(new StatusOutput(status.Provider, session.Target.DisplayName, status.Deployments, status.Capacity, session.Via), CliJsonContext.Default.StatusOutput);
                return;
            }
            if (status.Deployments.Count == 0)
                Console.Out.WriteLine($"No deployments of yours on {session.Target.DisplayName}.");
            else
                WriteTable(Header, [.. status.Deployments.Select(Row)]);
            if (status.Capacity is { } c)
                Console.Out.WriteLine($"\n{CapacityLine(session.Target.DisplayName, c)}");
            foreach (var d in status.Deployments)
            {
                if (HealthLine(d) is { } health)
                    Console.Out.WriteLine($"\n{health}");
                if (RestartLine(d) is { } restarts)
                    Console.Out.WriteLine(restarts);
                foreach (string line in DomainLines(d))
                    Console.Out.WriteLine(line);
            }
            foreach (var d in status.Deployments.Where(d => d.State != "running" && d.LastLogLines is { Count: > 0 }))
            {
                Console.Out.WriteLine($"\n{Show(d.Name)} is {Show(d.State)}{(d.ExitCode is { } code ? $" (exit code {code}{(d.OomKilled ? ", killed: out of memory" : "")})" : "")}; last log lines:");
                foreach (string line in d.LastLogLines!)
                    Console.Out.WriteLine($"  {Show(line)}");
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Print a deployment's logs (like docker logs): the container's stdout goes to stdout and its stderr to stderr,
    /// so a shell redirection tells them apart (2&gt;/dev/null keeps stdout alone). With nothing logged yet, a terminal
    /// shows (no output yet) on stderr. Examples: peerctl logs web --follow
    /// peerctl logs web --tail 20
    /// </summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id; or an app's name, with SERVICE.</param>
    /// <param name="service">SERVICE: A service of the app named first (peerctl logs APP SERVICE): the deployment APP-SERVICE.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="follow">-f, Keep printing new lines until the container stops (Ctrl-C to quit).</param>
    /// <param name="tail">Only the last N lines, e.g. 100.</param>
    /// <param name="previous">The log of the deployment's previous container (replaced by an update, or a failed update's new one), kept by the provider up to its --previous-logs-size.</param>
    [Command("logs")]
    public async Task Logs([Argument] string deployment, [Argument] string? service = null, string? peer = null, bool follow = false, int? tail = null, bool previous = false, CancellationToken cancellationToken = default)
    {
        if (previous && follow)
            throw new UsageException("--previous and --follow: a previous container's log no longer grows; drop --follow.");
        if (service is not null)
            deployment = PeerCompute.Core.Compose.AppRequests.DeploymentName(deployment, service);
        await WithProviderAsync(peer, json: false, replyTimeout: null, async (session, _) =>
        {
            int lines = 0;
            try
            {
                await foreach (var entry in session.Client.LogsAsync(deployment, tail, follow, cancellationToken, previous).ConfigureAwait(false))
                {
                    lines++;
                    bool stderr = entry.Stream == "stderr";
                    var target = stderr ? Console.Error : Console.Out;
                    // A terminal gets the line neutralised; a file or pipe gets the container's bytes as they are.
                    bool terminal = stderr ? !Console.IsErrorRedirected : !Console.IsOutputRedirected;
                    target.WriteLine(terminal ? Show(entry.Text) : entry.Text);
                    target.Flush();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C while following is the normal way out.
            }
            // Nothing at all looks like a hang or a broken command to a person; a script gets the empty output it expects.
            if (lines == 0 && !Console.IsErrorRedirected)
                Console.Error.WriteLine(Colors.Hint("(no output yet)"));
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stop a deployment and remove it from the provider.</summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"id","name","state","via"}.</param>
    /// <param name="timeout">Seconds to wait for the provider's answer once connected (default 60).</param>
    [Command("stop")]
    public async Task Stop([Argument] string deployment, string? peer = null, bool json = false, int timeout = DefaultStopTimeoutSeconds, CancellationToken cancellationToken = default)
    {
        await WithProviderAsync(peer, json, ReplyTimeout(timeout), async (session, replyToken) =>
        {
            var stopped = await session.Client.StopAsync(deployment, replyToken).ConfigureAwait(false);
            if (json)
                JsonOut.Write(new StopOutput(stopped.Id, stopped.Name, stopped.State, session.Via), CliJsonContext.Default.StopOutput);
            else
                Console.Out.WriteLine($"Stopped {Show(stopped.Name)} ({Show(stopped.Id)})");
        }, cancellationToken).ConfigureAwait(false);
    }
}

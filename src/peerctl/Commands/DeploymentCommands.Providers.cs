using PeerCompute.Cli;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Ctl.Client;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>Reaching providers: the trusted ones, a session with the one a command names, status across all of them.</summary>
internal sealed partial class DeploymentCommands
{
    private static List<TrustedPeer> TrustedProviders()
    {
        try
        {
            return [.. new TrustStore(PeerComputeHome.Resolve()).List().Where(p => p.Addrs.Count > 0)];
        }
        catch (TrustStoreException ex)
        {
            throw new CliException(ex.Message, code: "local_setup");
        }
    }

    /// <summary>Asks every provider at once; each answer or error is one provider's part of the table (or JSON).</summary>
    private static async Task StatusOfAllAsync(List<TrustedPeer> providers, string? deployment, bool json, TimeSpan replyTimeout, CancellationToken cancellationToken)
    {
        var answers = await Task.WhenAll(providers.Select(async p =>
        {
            string shown = p.Name ?? p.PeerId;
            try
            {
                ProviderStatusOutput? answer = null;
                await WithProviderAsync(shown, json: true, replyTimeout, async (session, replyToken) =>
                {
                    var status = await session.Client.StatusAsync(deployment, replyToken).ConfigureAwait(false);
                    answer = new ProviderStatusOutput(status.Provider, shown, status.Deployments, status.Capacity, session.Via, null);
                }, cancellationToken).ConfigureAwait(false);
                return answer!;
            }
            catch (CliException ex)
            {
                return new ProviderStatusOutput(p.PeerId, shown, null, null, null, new CliError(ex.Code, ex.Message));
            }
        })).ConfigureAwait(false);
        // Asked for one deployment: the providers that do not have it are not errors.
        var shownAnswers = deployment is null || answers.All(a => a.Error is { Code: ErrorCodes.NotFound })
            ? answers
            : [.. answers.Where(a => a.Error is not { Code: ErrorCodes.NotFound })];
        if (json)
        {
            JsonOut.Write(new AllStatusOutput(shownAnswers), CliJsonContext.Default.AllStatusOutput);
        }
        else
        {
            var rows = shownAnswers.SelectMany(a => a.Error is { } error
                ? [ErrorRow(a.ProviderName, error.Message)]
                : (a.Deployments ?? []).Select(d => Row(d).Prepend(a.ProviderName).ToArray())).ToList();
            if (rows.Count == 0)
                Console.Out.WriteLine($"No deployments of yours on {string.Join(", ", shownAnswers.Select(a => a.ProviderName))}.");
            else
                WriteTable(["PROVIDER", .. Header], rows);
            Console.Out.WriteLine();
            foreach (var a in shownAnswers.Where(a => a.Capacity is not null))
                Console.Out.WriteLine(CapacityLine(a.ProviderName, a.Capacity!));
        }
        if (answers.All(a => a.Error is not null))
        {
            // The errors are in the table (or the JSON) already: only the exit code and a line on stderr.
            Console.Error.WriteLine($"{Colors.Error("error:")} none of the {answers.Length} providers answered.");
            Environment.ExitCode = ExitCodes.Failed;
        }
    }

    private static TimeSpan ReplyTimeout(int seconds) =>
        seconds > 0 ? TimeSpan.FromSeconds(seconds) : throw new UsageException($"--timeout {seconds}: expected a number of seconds above 0.");

    /// <summary>
    /// Connects to the provider and runs <paramref name="action"/> with a token that also ends after
    /// <paramref name="replyTimeout"/> (null: only the caller's token), so a provider that keeps the connection but
    /// never answers is an error naming it and the timeout, not a hang.
    /// </summary>
    internal static async Task WithProviderAsync(string? peer, bool json, TimeSpan? replyTimeout, Func<ProviderSession, CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        var home = PeerComputeHome.Resolve();
        ProviderTarget target;
        PeerIdentity identity;
        try
        {
            target = ProviderTarget.Resolve(new TrustStore(home), peer);
            identity = IdentityStore.Load(home);
        }
        catch (Exception ex) when (ex is TrustStoreException or IdentityException)
        {
            throw Fail(json, "local_setup", ex.Message);
        }
        using (identity)
        {
            using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            ProviderSession? session = null;
            try
            {
                session = await ProviderSession.ConnectAsync(target, identity, ConnectTimeout, cancellationToken, PathMemory.For(home)).ConfigureAwait(false);
                if (session.Relay is { } relay && !json)
                    Console.Error.WriteLine($"(reached {target.DisplayName} through the relay {relay})");
                if (replyTimeout is { } limit)
                    reply.CancelAfter(limit);
                await action(session, reply.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (reply.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw Fail(json, "timeout", $"Provider {target.DisplayName} ({target.PeerId}) did not answer within {replyTimeout!.Value.TotalSeconds:0.#} s (--timeout); it is connected but busy or stuck. Try again, or raise --timeout.");
            }
            catch (ProviderRefusedException ex)
            {
                // not_answering and update_failed are no refusals: the deployment was made (or updated) and runs.
                throw Fail(json, ex.Code, ex.Code is ErrorCodes.NotAnswering or ErrorCodes.UpdateFailed ? $"{target.DisplayName}: {ex.Message}" : $"{target.DisplayName} refused: {ex.Message}");
            }
            catch (FrameException ex)
            {
                throw Fail(json, ex.Code, $"Bad answer from {target.DisplayName}: {ex.Message}");
            }
            catch (CliException ex) when (ex.Code == "failed")
            {
                throw Fail(json, "unreachable", ex.Message);
            }
            catch (IOException ex) when (session?.RelayLimitReached() is { } reached)
            {
                throw Fail(json, "relay_limit", $"The relay {session.Relay} closed the connection to {target.DisplayName}: it reached {reached} ({ex.Message}).");
            }
            catch (IOException ex)
            {
                throw Fail(json, "connection_lost", $"The connection to {target.DisplayName}{(session?.Relay is { } relay ? $" (through the relay {relay})" : "")} broke: {ex.Message}");
            }
            finally
            {
                if (session is not null)
                    await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>With --json, the error filter writes it to stdout as {"error":{"code","message"}} too, for scripts.</summary>
    private static CliException Fail(bool json, string code, string message) => new(message, code: code);
}

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Protocol;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>
/// A deployment's custom domains (like deploy --domain): each one is served once its DNS points at the deployment's
/// hostname (a CNAME, or for an apex a TXT record _peercompute.DOMAIN naming it) and its gateway has a certificate for it.
/// </summary>
internal sealed class DomainCommands
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(DeploymentCommands.DefaultStatusTimeoutSeconds);

    /// <summary>
    /// Add a custom domain to a deployment without redeploying it. Then point a CNAME at the deployment's hostname;
    /// `peerctl domain ls DEPLOYMENT` shows when each gateway serves it. Example: peerctl domain add web www.example.org
    /// </summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="domain">DOMAIN: A fully qualified domain name, e.g. www.example.org.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"provider","providerName","deployment","publicUrl","domains":[{"name","state","detail","gateway","certificateExpires","nextAttempt"}],"via"}.</param>
    [Command("add")]
    public Task Add([Argument] string deployment, [Argument] string domain, string? peer = null, bool json = false, CancellationToken cancellationToken = default)
        => RunAsync(DomainRequest.Add, deployment, domain, peer, json, cancellationToken);

    /// <summary>Take a custom domain off a deployment: the gateways stop serving it, and it is free to be claimed again.</summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="domain">DOMAIN: One of its custom domains.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print what domain ls --json prints, after the removal.</param>
    [Command("rm")]
    public Task Remove([Argument] string deployment, [Argument] string domain, string? peer = null, bool json = false, CancellationToken cancellationToken = default)
        => RunAsync(DomainRequest.Remove, deployment, domain, peer, json, cancellationToken);

    /// <summary>A deployment's custom domains and where each stands at every gateway: waiting for DNS, verified, serving (with the certificate's expiry), failed (with why and when it is tried again).</summary>
    /// <param name="deployment">DEPLOYMENT: The deployment name or id.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"provider","providerName","deployment","publicUrl","domains":[...],"via"}.</param>
    [Command("ls")]
    public Task List([Argument] string deployment, string? peer = null, bool json = false, CancellationToken cancellationToken = default)
        => RunAsync(DomainRequest.List, deployment, null, peer, json, cancellationToken);

    private static Task RunAsync(string action, string deployment, string? domain, string? peer, bool json, CancellationToken cancellationToken)
    {
        if (domain is not null && !CustomDomain.IsValid(CustomDomain.Normalize(domain)))
            throw new UsageException($"'{domain}' is not a domain name: give a fully qualified name such as www.example.org.");
        return DeploymentCommands.WithProviderAsync(peer, json, ReplyTimeout, async (session, replyToken) =>
        {
            var answer = await session.Client.DomainsAsync(action, deployment, domain, replyToken).ConfigureAwait(false);
            var d = answer.Deployments.FirstOrDefault() ?? throw new CliException($"The provider answered without the deployment {deployment}.");
            var domains = d.Domains ?? [];
            if (json)
            {
                JsonOut.Write(new DomainsOutput(answer.Provider, session.Target.DisplayName, d.Name, d.PublicUrl, domains, session.Via), CliJsonContext.Default.DomainsOutput);
                return;
            }
            string? host = d.PublicUrl is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : null;
            if (action == DomainRequest.Add)
                Console.Out.WriteLine($"Added {DeploymentCommands.Show(domain!)} to {DeploymentCommands.Show(d.Name)}. "
                    + (host is null ? "Point a CNAME at its hostname (the provider has no gateway connected now)." : $"Point a CNAME at {host} (or, for an apex, a TXT record _peercompute.{DeploymentCommands.Show(domain!)} \"{host}\")."));
            else if (action == DomainRequest.Remove)
                Console.Out.WriteLine($"Removed {DeploymentCommands.Show(domain!)} from {DeploymentCommands.Show(d.Name)}.");
            if (domains.Count == 0)
                Console.Out.WriteLine($"{DeploymentCommands.Show(d.Name)} has no custom domains.");
            foreach (string line in DeploymentCommands.DomainLines(d).Skip(1))
                Console.Out.WriteLine(line.TrimStart());
        }, cancellationToken);
    }
}

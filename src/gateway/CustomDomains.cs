using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Storage;
using PeerCompute.Gateway.Acme;
using PeerCompute.Net.Dns;
using PeerCompute.Tunnel.Gateway;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Gateway;

/// <summary>What the gateway does with custom domains: where it asks DNS, and how often it looks at pending ones.</summary>
internal sealed record CustomDomainOptions
{
    /// <summary>The resolver asked whether a domain points here (--resolver); null: the system's.</summary>
    public IPEndPoint? Resolver { get; init; }

    /// <summary>How often a domain whose DNS does not point here yet (or whose certificate failed) is looked at again.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How the CA checks that the gateway answers for a domain (--acme-challenge).</summary>
    public CustomDomainChallenge Challenge { get; init; } = CustomDomainChallenge.Http01;

    /// <summary>The name under a custom domain whose TXT record may prove it instead of a CNAME (for an apex, which cannot be a CNAME).</summary>
    public const string TxtProofLabel = "_peercompute";
}

/// <summary>The ACME challenge custom domains are proved with.</summary>
internal enum CustomDomainChallenge
{
    /// <summary>HTTP-01: the key authorization on the plain-HTTP port (--http-port, 80 to the world).</summary>
    Http01,

    /// <summary>TLS-ALPN-01 (RFC 8737): a challenge certificate on the HTTPS port, for gateways without port 80.</summary>
    TlsAlpn01,
}

/// <summary>
/// Serves the custom domains deployments claim (<see cref="DomainClaims"/>): checks through the resolver that each one
/// points at its deployment's hostname (a CNAME to <c>name-tag.DOMAIN</c>, or a TXT record at <c>_peercompute.DOMAIN</c>
/// naming it), then obtains its certificate by ACME HTTP-01 (the plain-HTTP listener answers the challenge) or
/// TLS-ALPN-01 (the HTTPS port shows a challenge certificate to the CA's validation connection), renews it
/// at two thirds of its lifetime (checking the DNS again first), and hands it to TLS by SNI. Until verified a domain is
/// not served (404); a domain whose DNS moves away is no longer served.
/// </summary>
internal sealed class CustomDomains : IHttpChallengeTokens, ITlsAlpnChallenges, IDomainStatusSource
{
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(5);
    private readonly DomainClaims _claims;
    private readonly CustomDomainOptions _options;
    private readonly AcmeOptions _acme;
    private readonly string _gatewayDomain;
    private readonly string _folder;
    private readonly string _accountKeyFile;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SslStreamCertificateContext> _certificates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _renewAt = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SslStreamCertificateContext> _tlsAlpn = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset Next)> _retry = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _lastError = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, 1);

    public CustomDomains(DomainClaims claims, CustomDomainOptions options, AcmeOptions acme, string gatewayDomain, string stateFolder, ILogger logger)
    {
        _claims = claims;
        _options = options;
        _acme = acme;
        _gatewayDomain = gatewayDomain;
        _folder = Path.Combine(stateFolder, "acme", "domains");
        _accountKeyFile = AcmeOptions.Files(stateFolder).AccountKey;
        _logger = logger;
        claims.Changed += Wake;
        foreach (var claim in claims.All.Where(c => c.Verified))
            LoadFromDisk(claim.Domain);
    }

    private IPEndPoint Resolver => _options.Resolver ?? DnsLookup.SystemResolver();

    /// <summary>The certificate for <paramref name="serverName"/> (SNI) when it is a verified custom domain with one; else null.</summary>
    public SslStreamCertificateContext? CertificateFor(string? serverName) =>
        serverName is not null && _certificates.TryGetValue(serverName.ToLowerInvariant(), out var certificate) && _claims.VerifiedLabel(serverName.ToLowerInvariant()) is not null
            ? certificate : null;

    public DomainStatus StatusOf(string domain)
    {
        domain = PeerCompute.Core.Protocol.CustomDomain.Normalize(domain);
        var claim = _claims.All.FirstOrDefault(c => c.Domain == domain);
        return claim is null ? DomainStatus.NotHeld(domain) : StatusOf(claim);
    }

    public IReadOnlyList<DomainStatus> All() => [.. _claims.All.OrderBy(c => c.Domain, StringComparer.Ordinal).Select(StatusOf)];

    private DomainStatus StatusOf(DomainClaim claim)
    {
        string target = claim.Label + "." + _gatewayDomain;
        DateTimeOffset? next = _retry.TryGetValue(claim.Domain, out var retry) ? retry.Next : null;
        bool failing = retry.Failures > 0 && _lastError.TryGetValue(claim.Domain, out string? error);
        if (_certificates.TryGetValue(claim.Domain, out var certificate) && claim.Verified)
        {
            var expires = new DateTimeOffset(certificate.TargetCertificate.NotAfter.ToUniversalTime());
            string renewal = failing ? $"; renewal failing: {_lastError[claim.Domain]}" : "";
            return new DomainStatus(claim.Domain, claim.Label, DomainState.Serving, expires, failing ? next : _renewAt.GetValueOrDefault(claim.Domain),
                $"served with its own certificate, valid until {expires:u}{renewal}");
        }
        if (failing)
            return new DomainStatus(claim.Domain, claim.Label, DomainState.Failed, null, next, _lastError[claim.Domain]);
        if (!claim.Verified)
            return new DomainStatus(claim.Domain, claim.Label, DomainState.WaitingForDns, null, next,
                $"waiting for its DNS: a CNAME to {target} (or TXT {CustomDomainOptions.TxtProofLabel}.{claim.Domain} \"{target}\")");
        return new DomainStatus(claim.Domain, claim.Label, DomainState.Verified, null, null, $"its DNS points at {target}; obtaining its certificate");
    }

    /// <summary>The key authorization for an HTTP-01 token of a challenge in progress.</summary>
    public string? KeyAuthorization(string token) => _tokens.GetValueOrDefault(token);

    void IHttpChallengeTokens.Add(string token, string keyAuthorization) => _tokens[token] = keyAuthorization;

    void IHttpChallengeTokens.Remove(string token) => _tokens.TryRemove(token, out _);

    /// <summary>The TLS-ALPN-01 challenge certificate for <paramref name="serverName"/> while its validation is open; else null.</summary>
    public SslStreamCertificateContext? TlsAlpnCertificateFor(string? serverName) =>
        serverName is not null && _tlsAlpn.TryGetValue(serverName.ToLowerInvariant(), out var certificate) ? certificate : null;

    void ITlsAlpnChallenges.Add(string domain, string keyAuthorization) => _tlsAlpn[domain] = TlsAlpnChallenge.Certificate(domain, keyAuthorization);

    void ITlsAlpnChallenges.Remove(string domain) => _tlsAlpn.TryRemove(domain, out _);

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var accountKey = await AcmeCertificates.LoadOrCreateAccountKeyAsync(_accountKeyFile, cancellationToken).ConfigureAwait(false);
            using var http = AcmeCertificates.NewHttpClient(_acme);
            var client = new AcmeClient(http, _acme.Directory, accountKey) { PollInterval = TimeSpan.FromMilliseconds(500) };
            while (!cancellationToken.IsCancellationRequested)
            {
                var claims = _claims.All;
                foreach (string gone in _retry.Keys.Where(d => !claims.Any(c => c.Domain == d)).ToList())
                {
                    _retry.TryRemove(gone, out _);
                    _lastError.TryRemove(gone, out _);
                }
                foreach (string gone in _certificates.Keys.Where(d => !claims.Any(c => c.Domain == d)).ToList())
                {
                    _certificates.TryRemove(gone, out _);
                    _renewAt.TryRemove(gone, out _);
                    _logger.LogInformation("custom domain {Domain}: released by its deployment; no longer served", gone);
                }
                foreach (var claim in claims)
                    await VisitAsync(client, claim, cancellationToken).ConfigureAwait(false);
                await _wake.WaitAsync(NextWake(), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The check interval, or sooner when a certificate is due for renewal before then.</summary>
    private TimeSpan NextWake()
    {
        var wait = _options.CheckInterval;
        foreach (var at in _renewAt.Values)
        {
            var until = at - DateTimeOffset.UtcNow;
            if (until < wait)
                wait = until < TimeSpan.Zero ? TimeSpan.Zero : until;
        }
        return wait;
    }

    private async Task VisitAsync(AcmeClient client, DomainClaim claim, CancellationToken cancellationToken)
    {
        string domain = claim.Domain;
        bool due = !_certificates.ContainsKey(domain) || _renewAt.GetValueOrDefault(domain) <= DateTimeOffset.UtcNow;
        if (claim.Verified && !due)
            return;
        if (_retry.TryGetValue(domain, out var retry) && retry.Next > DateTimeOffset.UtcNow)
            return;
        string target = claim.Label + "." + _gatewayDomain;
        try
        {
            // Checked before every order (a renewal included): a domain whose owner pointed it elsewhere stops being served.
            string? proof = await ProofAsync(domain, target, cancellationToken).ConfigureAwait(false);
            if (proof is null)
            {
                if (claim.Verified)
                {
                    _logger.LogWarning("custom domain {Domain}: its DNS no longer points at {Target}; no longer served", domain, target);
                    await _claims.SetVerifiedAsync(domain, claim.Label, false, cancellationToken).ConfigureAwait(false);
                }
                else if (!_retry.ContainsKey(domain))
                {
                    _logger.LogInformation("custom domain {Domain}: waiting for its DNS: a CNAME to {Target} (or TXT {Txt}.{Domain} \"{Target}\")",
                        domain, target, CustomDomainOptions.TxtProofLabel, domain, target);
                }
                _retry[domain] = (0, DateTimeOffset.UtcNow + _options.CheckInterval);
                return;
            }
            if (!claim.Verified)
            {
                await _claims.SetVerifiedAsync(domain, claim.Label, true, cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("custom domain {Domain}: verified ({Proof}); routed to {Label}", domain, proof, claim.Label);
                // Claimed again after a release (a deployment stopped, then started): its certificate is still on disk,
                // and a new order for every such cycle would spend the CA's rate limits for nothing.
                if (!_certificates.ContainsKey(domain))
                    LoadFromDisk(domain);
                if (_certificates.ContainsKey(domain) && _renewAt.GetValueOrDefault(domain) > DateTimeOffset.UtcNow)
                {
                    _retry.TryRemove(domain, out _);
                    _lastError.TryRemove(domain, out _);
                    _logger.LogInformation("custom domain {Domain}: served with its certificate from before, renewed at {When:u}", domain, _renewAt[domain]);
                    return;
                }
            }
            await client.EnsureAccountAsync(_acme.Email, cancellationToken).ConfigureAwait(false);
            var (chain, key) = _options.Challenge == CustomDomainChallenge.TlsAlpn01
                ? await client.ObtainAsync([domain], (ITlsAlpnChallenges)this, cancellationToken).ConfigureAwait(false)
                : await client.ObtainAsync([domain], (IHttpChallengeTokens)this, cancellationToken).ConfigureAwait(false);
            var (certificateFile, keyFile) = Files(domain);
            Directory.CreateDirectory(_folder);
            await AtomicFile.WriteAsync(keyFile, Encoding.ASCII.GetBytes(key), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
            await AtomicFile.WriteAsync(certificateFile, Encoding.ASCII.GetBytes(chain), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
            LoadFromDisk(domain);
            _retry.TryRemove(domain, out _);
            _lastError.TryRemove(domain, out _);
            _logger.LogInformation("custom domain {Domain}: certificate obtained, renews at {When:u}", domain, _renewAt.GetValueOrDefault(domain));
        }
        catch (Exception e) when (e is AcmeException or HttpRequestException or IOException or CryptographicException or UnauthorizedAccessException
            or InvalidOperationException or ArgumentException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            int failures = (_retry.TryGetValue(domain, out var previous) ? previous.Failures : 0) + 1;
            var delay = TimeSpan.FromTicks(Math.Min(_acme.MaxRetryDelay.Ticks, _acme.RetryDelay.Ticks * (1L << Math.Min(failures - 1, 20))));
            _retry[domain] = (failures, DateTimeOffset.UtcNow + delay);
            _lastError[domain] = e.Message;
            _logger.LogWarning("custom domain {Domain}: {Reason} (attempt {Attempt}); retrying in {Delay:0} s", domain, e.Message, failures, delay.TotalSeconds);
        }
    }

    /// <summary>How <paramref name="domain"/> proves it points at <paramref name="target"/>; null when it does not.</summary>
    private async Task<string?> ProofAsync(string domain, string target, CancellationToken cancellationToken)
    {
        var resolver = Resolver;
        var cnames = await DnsLookup.CnameAsync(resolver, domain, LookupTimeout, cancellationToken).ConfigureAwait(false);
        if (cnames.Contains(target, StringComparer.Ordinal))
            return $"CNAME {target}";
        var txt = await DnsLookup.TxtAsync(resolver, CustomDomainOptions.TxtProofLabel + "." + domain, LookupTimeout, cancellationToken).ConfigureAwait(false);
        return txt.Any(t => string.Equals(t.Trim().TrimEnd('.'), target, StringComparison.OrdinalIgnoreCase)) ? $"TXT {target}" : null;
    }

    private (string Certificate, string Key) Files(string domain) => (Path.Combine(_folder, domain + ".pem"), Path.Combine(_folder, domain + ".key"));

    private void LoadFromDisk(string domain)
    {
        var (certificateFile, keyFile) = Files(domain);
        if (!File.Exists(certificateFile) || !File.Exists(keyFile))
            return;
        try
        {
            var context = CertificateFiles.Load(certificateFile, keyFile);
            var leaf = context.TargetCertificate;
            var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
            _certificates[domain] = context;
            _renewAt[domain] = notBefore + ((notAfter - notBefore) * 2 / 3);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or Tunnel.TunnelException)
        {
            _logger.LogWarning("custom domain {Domain}: its certificate files do not load ({Reason}); ordering a new one", domain, e.Message);
        }
    }
}

using System.Text;
using PeerCompute.Core.Storage;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>One custom domain held by a deployment: its label (<c>name-tag</c>, so the provider identity), and whether its DNS was checked.</summary>
public sealed record DomainClaim(string Domain, string Label, bool Verified);

/// <summary>
/// The custom domains deployments hold at this gateway (<c>domains.txt</c> in the state folder, one
/// <c>domain label verified</c> line each). A domain is held by the first deployment that announces it and stays held
/// until its provider announces that deployment without it: a reconnect re-announces it, a restart reads it back, a
/// moment without routes (a provider starting up) or the deployment's removal leaves it held, and any other
/// provider's claim meanwhile is refused. The label's tag is bound to the provider's PeerId by
/// <see cref="HostnameBindings"/>, so holding a domain is holding it for that identity. A held domain is served only
/// once verified (the gateway checks that its DNS points at the deployment's hostname), which a claimant cannot fake.
/// </summary>
public sealed class DomainClaims
{
    public const string FileName = "domains.txt";
    private readonly Lock _lock = new();
    private readonly string? _path;
    private readonly string _gatewayDomain;
    private Dictionary<string, DomainClaim> _claims = new(StringComparer.Ordinal);

    private DomainClaims(string? path, string gatewayDomain)
    {
        _path = path;
        _gatewayDomain = gatewayDomain;
    }

    /// <summary>Raised (outside the lock) after claims change: a domain to verify, or one released.</summary>
    public event Action? Changed;

    /// <summary>Reads <see cref="FileName"/> from <paramref name="folder"/> (none: no claims); <paramref name="folder"/> null keeps claims in memory only.</summary>
    public static DomainClaims Load(string? folder, string gatewayDomain)
    {
        var claims = new DomainClaims(folder is null ? null : Path.Combine(folder, FileName), gatewayDomain);
        if (claims._path is not null && File.Exists(claims._path))
        {
            foreach (string line in File.ReadAllLines(claims._path))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 3 && TunnelHostname.TryParseLabel(parts[1], out _, out _))
                    claims._claims[parts[0]] = new DomainClaim(parts[0], parts[1], parts[2] == "1");
            }
        }
        return claims;
    }

    public IReadOnlyList<DomainClaim> All
    {
        get { lock (_lock) return [.. _claims.Values]; }
    }

    /// <summary>The label a verified domain routes to; null when <paramref name="host"/> is not a verified custom domain.</summary>
    public string? VerifiedLabel(string host)
    {
        lock (_lock)
            return _claims.TryGetValue(host, out var claim) && claim.Verified ? claim.Label : null;
    }

    /// <summary>
    /// Applies one provider's announcement (<paramref name="tag"/>; its accepted <paramref name="labels"/>, and domain → label
    /// for each domain they carry): releases the domains held by an announced label that no longer carries them, then
    /// claims the rest. Returns a refusal per refused domain.
    /// </summary>
    /// <param name="released">Domains the provider gave up, each with the label that held it: released when that label of
    /// this provider still holds it and the announcement does not claim it again.</param>
    public async Task<Dictionary<string, string>> ApplyAsync(string tag, IReadOnlyCollection<string> labels, IReadOnlyList<(string Domain, string Label)> wanted,
        CancellationToken cancellationToken, IReadOnlyList<Protocol.ReleasedDomain>? released = null)
    {
        var refusals = new Dictionary<string, string>(StringComparer.Ordinal);
        bool changed = false;
        string? snapshot = null;
        lock (_lock)
        {
            var wantedDomains = wanted.Select(w => w.Domain).ToHashSet(StringComparer.Ordinal);
            foreach (var claim in _claims.Values.Where(c => TagOf(c.Label) == tag && labels.Contains(c.Label) && !wantedDomains.Contains(c.Domain)).ToList())
            {
                _claims.Remove(claim.Domain);
                changed = true;
            }
            foreach (var (label, domain) in released ?? [])
            {
                if (TagOf(label) == tag && !wantedDomains.Contains(domain) && _claims.TryGetValue(domain, out var held) && held.Label == label)
                {
                    _claims.Remove(domain);
                    changed = true;
                }
            }
            var claimedNow = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (raw, label) in wanted)
            {
                if (Problem(raw) is { } problem)
                {
                    refusals[raw] = problem;
                    continue;
                }
                if (!claimedNow.Add(raw))
                {
                    refusals[raw] = $"{raw} is claimed by two deployments of this provider; only the first gets it";
                    continue;
                }
                if (_claims.TryGetValue(raw, out var held))
                {
                    if (held.Label == label)
                        continue;
                    if (TagOf(held.Label) != tag)
                    {
                        refusals[raw] = $"{raw} is held by another deployment at this gateway";
                        continue;
                    }
                }
                // New, or moved between this provider's deployments: its DNS must point at the new hostname first.
                _claims[raw] = new DomainClaim(raw, label, Verified: false);
                changed = true;
            }
            if (changed)
                snapshot = Serialize();
        }
        if (changed)
        {
            await SaveAsync(snapshot!, cancellationToken).ConfigureAwait(false);
            Changed?.Invoke();
        }
        return refusals;
    }

    /// <summary>Marks <paramref name="domain"/> verified (or not) if <paramref name="label"/> still holds it.</summary>
    public async Task SetVerifiedAsync(string domain, string label, bool verified, CancellationToken cancellationToken)
    {
        string snapshot;
        lock (_lock)
        {
            if (!_claims.TryGetValue(domain, out var claim) || claim.Label != label || claim.Verified == verified)
                return;
            _claims[domain] = claim with { Verified = verified };
            snapshot = Serialize();
        }
        await SaveAsync(snapshot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Why <paramref name="domain"/> cannot be a custom domain here; null when it can.</summary>
    public string? Problem(string domain)
    {
        string normalized;
        try
        {
            normalized = TunnelHostname.NormalizeDomain(domain);
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
        if (normalized != domain)
            return $"'{domain}' is not in normal form (lower case, no trailing dot)";
        if (!domain.Contains('.', StringComparison.Ordinal))
            return $"'{domain}' is not a fully qualified domain name";
        if (domain == _gatewayDomain || domain.EndsWith("." + _gatewayDomain, StringComparison.Ordinal))
            return $"'{domain}' is in the gateway's own zone {_gatewayDomain}: its names are generated, not claimed";
        return null;
    }

    private static string TagOf(string label) => TunnelHostname.TryParseLabel(label, out _, out string tag) ? tag : "";

    private string Serialize()
    {
        var text = new StringBuilder();
        foreach (var claim in _claims.Values.OrderBy(c => c.Domain, StringComparer.Ordinal))
            text.Append(claim.Domain).Append(' ').Append(claim.Label).Append(' ').Append(claim.Verified ? '1' : '0').Append('\n');
        return text.ToString();
    }

    private async Task SaveAsync(string snapshot, CancellationToken cancellationToken)
    {
        if (_path is not null)
            await AtomicFile.WriteAsync(_path, Encoding.ASCII.GetBytes(snapshot), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
    }
}

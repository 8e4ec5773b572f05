using Microsoft.Extensions.Logging;

namespace PeerCompute.Runtime.Firewall;

/// <summary>
/// The one place that decides whether containers may start as far as egress goes: it installs or repairs the rules
/// (on start, on every reconcile, before every deploy), checks that forwarded traffic really passes them, remembers why
/// they could not be or would be bypassed, and says so once per change.
/// </summary>
internal sealed class EgressGate
{
    private readonly ILogger _logger;
    private readonly EgressOptions? _appOptions;
    // Apps' own bridges, each with its own chain; kept in place by every refresh like the shared bridge's.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, EgressFirewall> _apps = new(StringComparer.Ordinal);

    public EgressGate(RuntimeOptions options, ILogger logger)
    {
        _logger = logger;
        if (options.Egress is { Open: false } egress)
        {
            Firewall = new EgressFirewall(options.NetworkName, egress, logger);
            _appOptions = egress with { ChainName = null };
        }
    }

    /// <summary>
    /// Fail closed for an app's bridge: installs (or repairs) its chain, which lets the app's containers reach each
    /// other and filters everything else as on the shared bridge, and checks forwarded traffic meets it.
    /// </summary>
    public async Task EnsureAppAllowedAsync(string bridge, CancellationToken cancellationToken)
    {
        if (_appOptions is null)
            return;
        var firewall = _apps.GetOrAdd(bridge, b => new EgressFirewall(b, _appOptions, _logger, interContainer: true));
        try
        {
            await firewall.EnsureAsync(cancellationToken).ConfigureAwait(false);
            await VerifySettledAsync(firewall, cancellationToken).ConfigureAwait(false);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable)
        {
            throw new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"deploy refused: {ex.Message}", ex);
        }
    }

    /// <summary>How long a bypass is looked at again before it counts (see <see cref="VerifySettledAsync"/>).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The engine (Docker 20.10) inserts a new network's FORWARD rules at the top, ahead of FORWARD's jump to
    /// DOCKER-USER, and moves that jump first again a moment later: an app's first deploy creates a network, and a
    /// check in that moment (its own or a concurrent deploy's) would see the rules bypassed. A bypass is read again
    /// until <see cref="SettleTime"/> has passed before it counts.
    /// </summary>
    private static async Task VerifySettledAsync(EgressFirewall firewall, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + SettleTime;
        while (true)
        {
            try
            {
                await firewall.VerifyAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable
                && ex.Message.StartsWith(EgressFirewall.BypassedPrefix, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Keeps an app bridge's rules in place from now on (an app found again on start).</summary>
    public void TrackApp(string bridge)
    {
        if (_appOptions is not null)
            _apps.GetOrAdd(bridge, b => new EgressFirewall(b, _appOptions, _logger, interContainer: true));
    }

    /// <summary>Removes an app bridge's chain and jumps (its app is gone).</summary>
    public async Task RemoveAppAsync(string bridge, CancellationToken cancellationToken)
    {
        if (_appOptions is null)
            return;
        var firewall = _apps.TryRemove(bridge, out var known) ? known : new EgressFirewall(bridge, _appOptions, _logger, interContainer: true);
        await firewall.RemoveAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The firewall kept installed; null when none is managed (no options, or open egress).</summary>
    public EgressFirewall? Firewall { get; }

    /// <summary>Why the rules could not be installed the last time they were checked; null when they are in place (or not managed).</summary>
    public string? Problem { get; private set; }

    /// <summary>Installs or repairs the rules; returns the reason when they cannot be. Start and reconcile go on either way.</summary>
    public async Task<string?> RefreshAsync(CancellationToken cancellationToken)
    {
        string? problem = (await CheckAsync(cancellationToken).ConfigureAwait(false))?.Message;
        foreach (var app in _apps.Values)
        {
            try
            {
                await app.EnsureAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable)
            {
                problem ??= ex.Message;
            }
        }
        return problem;
    }

    /// <summary>Fail closed: no container starts unless its egress rules are in place right now.</summary>
    public async Task EnsureDeployAllowedAsync(CancellationToken cancellationToken)
    {
        if (await CheckAsync(cancellationToken).ConfigureAwait(false) is { } problem)
            throw new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"deploy refused: {problem.Message}", problem);
    }

    private async Task<RuntimeException?> CheckAsync(CancellationToken cancellationToken)
    {
        if (Firewall is null)
            return null;
        string? before = Problem;
        try
        {
            await Firewall.EnsureAsync(cancellationToken).ConfigureAwait(false);
            // Installed is not enough: the engine must also send forwarded traffic through them.
            await VerifySettledAsync(Firewall, cancellationToken).ConfigureAwait(false);
            Problem = null;
            if (before is not null)
                _logger.LogInformation("Egress firewall in place again: deploys are accepted");
            return null;
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.EgressUnavailable)
        {
            Problem = ex.Message;
            // Once per change, not every reconcile.
            if (before != ex.Message)
                _logger.LogError("Deploys are refused: {Reason}", ex.Message);
            return ex;
        }
    }
}

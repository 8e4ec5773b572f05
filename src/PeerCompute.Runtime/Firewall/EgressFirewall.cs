using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace PeerCompute.Runtime.Firewall;

/// <summary>
/// Installs, checks and removes the egress rules of one bridge by running iptables and ip6tables
/// (<c>-S</c> to read, <c>-restore --noflush</c> to change atomically). The rules themselves come from
/// <see cref="EgressRules"/>. Needs root or CAP_NET_ADMIN; without it every call fails with
/// <see cref="RuntimeErrorCode.EgressUnavailable"/>.
/// </summary>
public sealed class EgressFirewall
{
    private readonly EgressOptions _options;
    private readonly ILogger _logger;
    // Read-then-restore must not interleave (a deploy and a reconcile at once would both insert a jump).
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string? _sameBridge;

    /// <param name="interContainer">The bridge's containers may reach each other (an app's own network, see <see cref="EgressRules.ChainRules"/>).</param>
    public EgressFirewall(string bridge, EgressOptions options, ILogger? logger = null, bool interContainer = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(bridge);
        Bridge = bridge;
        _sameBridge = interContainer ? bridge : null;
        _options = options;
        Chain = options.ResolveChainName(bridge);
        if (Chain.Length > 28)
            throw new ArgumentException($"chain name {Chain} is longer than iptables allows (28)", nameof(options));
        _logger = logger ?? NullLogger.Instance;
    }

    public string Bridge { get; }
    public string Chain { get; }

    /// <summary>
    /// Makes the installed rules what they should be now (resolvers are read again each time); does nothing
    /// when they already are. Returns true when it changed something.
    /// </summary>
    public async Task<bool> EnsureAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await EnsureCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> EnsureCoreAsync(CancellationToken cancellationToken)
    {
        var resolvers = _options.DnsResolvers ?? DiscoverResolvers();
        bool changed = false;
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            changed |= await WithRetryAsync(family, saved => EgressRules.IsCurrent(family, Bridge, Chain, _options.AllowedRanges, resolvers, saved, _sameBridge)
                ? null
                : EgressRules.ApplyScript(family, Bridge, Chain, _options.AllowedRanges, resolvers, saved, _sameBridge), cancellationToken).ConfigureAwait(false);
        }
        if (changed)
            _logger.LogInformation("Egress firewall for {Bridge} installed (chain {Chain}; allowed {Allowed}; DNS {Resolvers})",
                Bridge, Chain, _options.AllowedRanges.Count == 0 ? "none" : string.Join(", ", _options.AllowedRanges.Select(EgressRules.Format)), string.Join(", ", resolvers));
        return changed;
    }

    /// <summary>
    /// Reads the table, asks <paramref name="plan"/> for a batch (null: nothing to do) and applies it. Another process
    /// (a second provider on this engine, the engine itself) may change the table in between, making a -D miss: then
    /// read and plan again.
    /// </summary>
    private async Task<bool> WithRetryAsync(IpFamily family, Func<IReadOnlyList<string>, string?> plan, CancellationToken cancellationToken)
    {
        const int attempts = 3;
        for (int attempt = 1; ; attempt++)
        {
            var saved = await TrySaveAsync(family, cancellationToken).ConfigureAwait(false);
            if (saved is null || plan(saved) is not { } script)
                return false;
            try
            {
                await RestoreAsync(family, script, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (RuntimeException ex) when (attempt < attempts && ex.Code == RuntimeErrorCode.EgressUnavailable)
            {
                _logger.LogDebug("Egress firewall: {Reason}; reading the table again", ex.Message);
            }
        }
    }

    /// <summary>How the reason starts when the rules are installed but forwarded traffic would not pass them.</summary>
    public const string BypassedPrefix = "the egress rules would be bypassed: ";

    /// <summary>How the reason starts when the rules cannot be installed at all (no iptables, no permission).</summary>
    public const string UnavailablePrefix = "cannot manage the egress firewall: ";

    /// <summary>
    /// Checks, in both families, that traffic forwarded from the bridge really meets the chain: our jump first in its
    /// hook and, for <c>DOCKER-USER</c>, <c>FORWARD</c> jumping there before anything that could accept it. Throws
    /// <see cref="RuntimeErrorCode.EgressUnavailable"/> naming what lets traffic around the rules. Meant once the engine
    /// runs (before, FORWARD has no jump to <c>DOCKER-USER</c> yet).
    /// </summary>
    public async Task VerifyAsync(CancellationToken cancellationToken = default)
    {
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            var saved = await TrySaveAsync(family, cancellationToken).ConfigureAwait(false);
            if (saved is not null && EgressRules.ForwardProblem(family, Bridge, Chain, saved) is { } problem)
                throw new RuntimeException(RuntimeErrorCode.EgressUnavailable, BypassedPrefix + problem);
        }
    }

    /// <summary>Removes the chain and every jump to it, in both families. Returns true when anything was there.</summary>
    public async Task<bool> RemoveAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RemoveCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> RemoveCoreAsync(CancellationToken cancellationToken)
    {
        bool removed = false;
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
            removed |= await WithRetryAsync(family, saved => EgressRules.RemoveScript(Chain, saved), cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <summary>What is installed now, per family: the jumps to the chain, then its rules (empty when nothing is).</summary>
    public async Task<IReadOnlyList<string>> ShowAsync(CancellationToken cancellationToken = default)
    {
        var lines = new List<string>();
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            var saved = await TrySaveAsync(family, cancellationToken).ConfigureAwait(false);
            if (saved is null)
                continue;
            string tool = Tool(family);
            foreach (string jump in EgressRules.Jumps(saved, Chain))
                lines.Add($"{tool}: -A {jump}");
            lines.AddRange(saved.Where(l => l == $"-N {Chain}" || l.StartsWith($"-A {Chain} ", StringComparison.Ordinal)).Select(l => $"{tool}: {l}"));
        }
        return lines;
    }

    /// <summary>
    /// The DNS servers the engine forwards containers' lookups to from inside their network namespace: those
    /// of <c>/etc/docker/daemon.json</c> ("dns"), else of resolv.conf (systemd-resolved's upstream list when
    /// resolv.conf names only its loopback stub).
    /// </summary>
    public static IReadOnlyList<IPAddress> DiscoverResolvers()
    {
        var fromDaemon = ReadDaemonDns("/etc/docker/daemon.json");
        if (fromDaemon.Count > 0)
            return fromDaemon;
        var servers = new List<IPAddress>();
        foreach (string path in new[] { "/etc/resolv.conf", "/run/systemd/resolve/resolv.conf" })
        {
            try
            {
                servers.AddRange(EgressRules.ParseResolvConf(File.ReadAllText(path)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return servers.Distinct().ToList();
    }

    private static List<IPAddress> ReadDaemonDns(string path)
    {
        var servers = new List<IPAddress>();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("dns", out var dns) && dns.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in dns.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String && IPAddress.TryParse(item.GetString(), out var address) && !IPAddress.IsLoopback(address))
                        servers.Add(address);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
        }
        return servers;
    }

    private string Tool(IpFamily family) => family == IpFamily.V4 ? _options.IptablesCommand : _options.Ip6tablesCommand;

    /// <summary>The filter table as <c>-S</c> lines; null for IPv6 on a host without IPv6 (nothing to filter there).</summary>
    private async Task<IReadOnlyList<string>?> TrySaveAsync(IpFamily family, CancellationToken cancellationToken)
    {
        string tool = Tool(family);
        var (exit, stdout, stderr, missing) = await RunAsync(tool, ["-w", "10", "-t", "filter", "-S"], null, cancellationToken).ConfigureAwait(false);
        if (exit == 0)
            return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (family == IpFamily.V6 && !Ipv6Enabled())
            return null;
        throw Failure(tool, missing, stderr);
    }

    private async Task RestoreAsync(IpFamily family, string script, CancellationToken cancellationToken)
    {
        string tool = Tool(family) + "-restore";
        var (exit, _, stderr, missing) = await RunAsync(tool, ["-w", "10", "--noflush"], script, cancellationToken).ConfigureAwait(false);
        if (exit != 0)
            throw Failure(tool, missing, stderr + (missing ? "" : $"\nbatch was:\n{script}"));
    }

    private static bool Ipv6Enabled() => File.Exists("/proc/net/if_inet6");

    private static RuntimeException Failure(string tool, bool missing, string stderr)
    {
        string detail = stderr.Trim();
        if (missing)
            return new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"{UnavailablePrefix}{tool} is not installed (install the iptables package)");
        if (detail.Contains("Permission denied", StringComparison.OrdinalIgnoreCase) || detail.Contains("must be root", StringComparison.OrdinalIgnoreCase)
            || detail.Contains("Operation not permitted", StringComparison.OrdinalIgnoreCase))
        {
            return new RuntimeException(RuntimeErrorCode.EgressUnavailable,
                $"{UnavailablePrefix}{tool} needs root or CAP_NET_ADMIN ({FirstLine(detail)})");
        }
        return new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"{UnavailablePrefix}{tool} failed: {detail}");
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    private async Task<(int Exit, string Stdout, string Stderr, bool Missing)> RunAsync(string file, IReadOnlyList<string> arguments, string? stdin, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new Win32Exception($"could not start {file}");
        }
        catch (Win32Exception)
        {
            return (-1, "", "", true);
        }
        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.CommandTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                if (stdin is not null)
                    await process.StandardInput.WriteAsync(new StringBuilder(stdin), timeout.Token).ConfigureAwait(false);
                process.StandardInput.Close();
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new RuntimeException(RuntimeErrorCode.EgressUnavailable, $"{UnavailablePrefix}{file} did not finish within {_options.CommandTimeout.TotalSeconds:0} s");
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
        }
    }
}

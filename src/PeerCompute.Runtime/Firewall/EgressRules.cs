using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Runtime.Firewall;

/// <summary>IPv4 (iptables) or IPv6 (ip6tables).</summary>
internal enum IpFamily
{
    V4,
    V6,
}

/// <summary>
/// The egress rules as pure functions: what to install given what the table holds now (the output of
/// <c>iptables -S</c>), what to remove, and whether what is installed is what we want. Scripts are
/// <c>iptables-restore --noflush</c> batches, so each change is one atomic transaction.
/// </summary>
/// <remarks>
/// One chain holds the policy. It is jumped to, as the first rule, from <c>DOCKER-USER</c> (traffic the
/// host forwards from the bridge; the engine evaluates that chain before its own accepts and never
/// flushes it) and from <c>INPUT</c> (traffic from the bridge to the host's own addresses). Order in the
/// chain: replies to connections made to the container; allowed ranges; DNS to the resolvers the
/// engine forwards to; then reject the host's own addresses and the blocked ranges; the rest returns
/// to the engine's rules (the internet stays reachable).
/// </remarks>
public static class EgressRules
{
    internal const string DefaultChain = "PEERCOMPUTE-EGRESS";
    internal const string ForwardHook = "DOCKER-USER";
    internal const string InputHook = "INPUT";

    /// <summary>The chain's rules in <c>iptables -S</c> form (so they compare with what is installed).</summary>
    /// <param name="sameBridge">A bridge whose containers may reach each other (an app's own network): traffic from it back out
    /// to it returns to the engine's rules before the blocked ranges, which hold the bridge's own subnet.</param>
    internal static IReadOnlyList<string> ChainRules(IpFamily family, string chain, IReadOnlyList<IPNetwork> allowed, IReadOnlyList<IPAddress> resolvers, string? sameBridge = null)
    {
        var addressFamily = family == IpFamily.V4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        string reject = family == IpFamily.V4 ? "-j REJECT --reject-with icmp-admin-prohibited" : "-j REJECT --reject-with icmp6-adm-prohibited";
        var rules = new List<string>
        {
            $"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        };
        if (sameBridge is not null)
            rules.Add($"-A {chain} -o {sameBridge} -j RETURN");
        foreach (var range in allowed.Where(r => r.BaseAddress.AddressFamily == addressFamily).Distinct())
            rules.Add($"-A {chain} -d {Format(range)} -j RETURN");
        foreach (var resolver in resolvers.Where(r => r.AddressFamily == addressFamily).Distinct())
        {
            string host = Format(new IPNetwork(resolver, family == IpFamily.V4 ? 32 : 128));
            rules.Add($"-A {chain} -d {host} -p udp -m udp --dport 53 -j RETURN");
            rules.Add($"-A {chain} -d {host} -p tcp -m tcp --dport 53 -j RETURN");
        }
        // The host's own addresses, whatever they are now (LOCAL is looked up per packet).
        rules.Add($"-A {chain} -m addrtype --dst-type LOCAL {reject}");
        foreach (var range in BlockedRanges.For(addressFamily))
            rules.Add($"-A {chain} -d {Format(range)} {reject}");
        // Broadcast and multicast have no business leaving a container (and REJECT never answers them); IPv6 has no broadcast.
        if (family == IpFamily.V4)
            rules.Add($"-A {chain} -m addrtype --dst-type BROADCAST -j DROP");
        rules.Add($"-A {chain} -m addrtype --dst-type MULTICAST -j DROP");
        return rules;
    }

    /// <summary>The jump rule, in <c>iptables -S</c> form without its <c>-A HOOK</c> prefix.</summary>
    internal static string JumpSpec(string bridge, string chain) => $"-i {bridge} -j {chain}";

    /// <summary>
    /// Where traffic forwarded from the bridge is caught: <c>DOCKER-USER</c>, except for IPv6 when the engine
    /// does not manage ip6tables (no such chain), where nothing of the engine's precedes us in FORWARD.
    /// </summary>
    internal static string ForwardHookFor(IpFamily family, IReadOnlyList<string> saved)
        => family == IpFamily.V6 && !HasChain(saved, ForwardHook) ? "FORWARD" : ForwardHook;

    // Targets that never let a packet past the rules after them (refusals, rules that only note it, a conditional jump to DOCKER-USER).
    private static readonly HashSet<string> HarmlessTargets = new(StringComparer.Ordinal) { "DROP", "REJECT", "LOG", "NFLOG", "MARK", "CONNMARK", ForwardHook };

    /// <summary>
    /// Why traffic forwarded from <paramref name="bridge"/> would not pass the chain, from the table as it is now; null
    /// when it does. Its hook must reach our jump before any rule that could let the bridge's traffic through, and when
    /// that hook is <c>DOCKER-USER</c>, <c>FORWARD</c> must likewise reach its jump to <c>DOCKER-USER</c> (replies of
    /// established connections aside: the chain returns those anyway). An engine that filters with nftables only, or
    /// with the other iptables flavour (legacy against nft), leaves FORWARD without that jump.
    /// </summary>
    internal static string? ForwardProblem(IpFamily family, string bridge, string chain, IReadOnlyList<string> saved)
    {
        string tool = family == IpFamily.V4 ? "iptables" : "ip6tables";
        string hook = ForwardHookFor(family, saved);
        string ours = JumpSpec(bridge, chain);
        if (Bypass(saved, hook, bridge, spec => spec == ours) is { } early)
            return early.Length == 0 ? $"{tool}: {hook} has no jump to {chain}" : $"{tool}: the {hook} rule '{early}' comes before the jump to {chain}, so traffic from {bridge} can pass without the egress rules";
        if (hook != ForwardHook)
            return null;
        string? around = Bypass(saved, "FORWARD", bridge, spec => spec is "-j " + ForwardHook or "-g " + ForwardHook);
        if (around is null)
            return null;
        return around.Length > 0
            ? $"{tool}: the FORWARD rule '{around}' comes before FORWARD's jump to {ForwardHook}, so traffic from {bridge} can pass without the egress rules"
            : $"{tool}: FORWARD has no jump to {ForwardHook}, so traffic forwarded from {bridge} never meets the egress rules "
                + "(the engine filters without iptables' DOCKER-USER: Docker with \"firewall-backend\": \"nftables\" or \"iptables\": false, "
                + "or an engine using iptables-legacy while this host's iptables is nft, or the reverse)";
    }

    /// <summary>
    /// Walks <paramref name="hook"/> in order: null when a rule that <paramref name="isJump"/> comes before any that could
    /// pass the bridge's traffic; else that rule, or "" when the jump is not there at all.
    /// </summary>
    private static string? Bypass(IReadOnlyList<string> saved, string hook, string bridge, Func<string, bool> isJump)
    {
        string prefix = $"-A {hook} ";
        var specs = saved.Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => Normalize(l[prefix.Length..])).ToList();
        int jump = specs.FindIndex(spec => isJump(spec));
        if (jump < 0)
            return "";
        return specs.Take(jump).FirstOrDefault(spec => MayPass(spec.Split(' '), bridge));
    }

    /// <summary>Whether a rule (its words after <c>-A HOOK</c>) could let a packet from the bridge through.</summary>
    private static bool MayPass(string[] words, string bridge)
    {
        string? target = null;
        for (int i = 0; i + 1 < words.Length; i++)
        {
            bool negated = i > 0 && words[i - 1] == "!";
            switch (words[i])
            {
                case "-j" or "-g":
                    target = words[i + 1];
                    break;
                case "-i" when negated == InterfaceMatches(words[i + 1], bridge):
                    // Only for other interfaces (or "! -i" the bridge itself): the bridge's traffic never matches.
                    return false;
                case "--ctstate" or "--state" when !negated && words[i + 1].Split(',').All(s => s is "RELATED" or "ESTABLISHED"):
                    return false;
            }
        }
        return target is null ? false : !HarmlessTargets.Contains(target);
    }

    /// <summary>iptables' interface match: a name, or a prefix ending in '+'.</summary>
    private static bool InterfaceMatches(string pattern, string name)
        => pattern.EndsWith('+') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : pattern == name;

    /// <summary>
    /// The batch that (re)installs the chain and puts its two jumps first, removing older copies of the jumps.
    /// Never declares (and so never flushes) a chain it does not own.
    /// </summary>
    internal static string ApplyScript(IpFamily family, string bridge, string chain, IReadOnlyList<IPNetwork> allowed, IReadOnlyList<IPAddress> resolvers, IReadOnlyList<string> saved, string? sameBridge = null)
    {
        var script = new StringBuilder("*filter\n");
        // Declaring our own chain creates it, or (with --noflush) empties it, in the same transaction as the refill.
        script.Append(':').Append(chain).Append(" - [0:0]\n");
        string forwardHook = ForwardHookFor(family, saved);
        if (forwardHook == ForwardHook && !HasChain(saved, ForwardHook))
            script.Append(':').Append(ForwardHook).Append(" - [0:0]\n"); // the engine is not up yet; it keeps a chain it finds
        foreach (string rule in ChainRules(family, chain, allowed, resolvers, sameBridge))
            script.Append(rule).Append('\n');
        foreach (string jump in Jumps(saved, chain))
            script.Append("-D ").Append(jump).Append('\n');
        script.Append("-I ").Append(forwardHook).Append(" 1 ").Append(JumpSpec(bridge, chain)).Append('\n');
        script.Append("-I ").Append(InputHook).Append(" 1 ").Append(JumpSpec(bridge, chain)).Append('\n');
        script.Append("COMMIT\n");
        return script.ToString();
    }

    /// <summary>The batch that removes every jump to the chain and the chain itself; null when nothing of ours is installed.</summary>
    internal static string? RemoveScript(string chain, IReadOnlyList<string> saved)
    {
        var jumps = Jumps(saved, chain);
        bool hasChain = HasChain(saved, chain);
        if (jumps.Count == 0 && !hasChain)
            return null;
        var script = new StringBuilder("*filter\n");
        foreach (string jump in jumps)
            script.Append("-D ").Append(jump).Append('\n');
        if (hasChain)
        {
            script.Append("-F ").Append(chain).Append('\n');
            script.Append("-X ").Append(chain).Append('\n');
        }
        script.Append("COMMIT\n");
        return script.ToString();
    }

    /// <summary>True when the chain holds exactly the wanted rules and both jumps come first in their hooks.</summary>
    internal static bool IsCurrent(IpFamily family, string bridge, string chain, IReadOnlyList<IPNetwork> allowed, IReadOnlyList<IPAddress> resolvers, IReadOnlyList<string> saved, string? sameBridge = null)
    {
        if (!HasChain(saved, chain))
            return false;
        var installed = saved.Where(l => l.StartsWith($"-A {chain} ", StringComparison.Ordinal)).Select(Normalize);
        if (!installed.SequenceEqual(ChainRules(family, chain, allowed, resolvers, sameBridge).Select(Normalize), StringComparer.Ordinal))
            return false;
        string jump = JumpSpec(bridge, chain);
        return FirstRule(saved, ForwardHookFor(family, saved)) == jump && FirstRule(saved, InputHook) == jump
            && Jumps(saved, chain).Count == 2;
    }

    /// <summary>Every rule that jumps to the chain, as "HOOK spec" (ready to follow -D).</summary>
    internal static IReadOnlyList<string> Jumps(IReadOnlyList<string> saved, string chain)
    {
        var jumps = new List<string>();
        foreach (string line in saved)
        {
            if (!line.StartsWith("-A ", StringComparison.Ordinal))
                continue;
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int j = Array.IndexOf(words, "-j");
            if (j > 0 && j + 1 < words.Length && words[j + 1] == chain && words[1] != chain)
                jumps.Add(string.Join(' ', words.Skip(1)));
        }
        return jumps;
    }

    internal static bool HasChain(IReadOnlyList<string> saved, string chain)
        => saved.Any(l => l == $"-N {chain}" || l.StartsWith($"-P {chain} ", StringComparison.Ordinal));

    /// <summary>
    /// A CIDR range (<c>10.1.0.0/16</c>, <c>fd00::/8</c>) or one address. Host bits are cleared, so
    /// <c>192.168.1.7/24</c> means the whole /24 (as iptables would read it).
    /// </summary>
    public static bool TryParseRange(string? text, out IPNetwork range)
    {
        range = default;
        if (text is null)
            return false;
        text = text.Trim();
        int slash = text.IndexOf('/');
        string addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address) || text.Contains('%'))
            return false;
        // IPAddress also takes inet_aton's short forms ("10.1.2" is 10.1.0.2): a range is written in full.
        if (address.AddressFamily == AddressFamily.InterNetwork && addressText.Count(c => c == '.') != 3)
            return false;
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max))
            return false;
        byte[] bytes = address.GetAddressBytes();
        for (int bit = prefix; bit < bytes.Length * 8; bit++)
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        range = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }

    /// <summary>The non-loopback <c>nameserver</c> lines of a resolv.conf (loopback ones are reached by the engine from the host, not through the bridge).</summary>
    internal static IReadOnlyList<IPAddress> ParseResolvConf(string text)
    {
        var servers = new List<IPAddress>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (!line.StartsWith("nameserver", StringComparison.Ordinal))
                continue;
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 2 && words[0] == "nameserver" && IPAddress.TryParse(words[1].Split('%')[0], out var address) && !IPAddress.IsLoopback(address))
                servers.Add(address);
        }
        return servers;
    }

    /// <summary>iptables' own spelling: the address, a slash and the prefix (/32 and /128 included).</summary>
    public static string Format(IPNetwork range)
    {
        // ip6tables prints an IPv4-mapped address dotted (::ffff:0.0.0.0), as inet_ntop does; .NET does not always.
        string address = range.BaseAddress.IsIPv4MappedToIPv6 ? "::ffff:" + range.BaseAddress.MapToIPv4() : range.BaseAddress.ToString();
        return $"{address}/{range.PrefixLength.ToString(CultureInfo.InvariantCulture)}";
    }

    private static string? FirstRule(IReadOnlyList<string> saved, string hook)
    {
        string prefix = $"-A {hook} ";
        string? first = saved.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return first is null ? null : Normalize(first[prefix.Length..]);
    }

    private static string Normalize(string rule) => string.Join(' ', rule.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}

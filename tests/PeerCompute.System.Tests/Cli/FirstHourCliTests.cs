using System.Text.Json;
using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Cli;

/// <summary>
/// What a newcomer meets in the first hour (issue 19), pinned on the published binaries: help pages of every command,
/// typo suggestions, value errors that name the option, JSON errors, peers edit, status of several providers, the
/// Noise mismatch message and --verify, colour on a terminal only.
/// </summary>
public partial class FirstHourCliTests
{
    private const string Maya = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    private static readonly Dictionary<string, string?> NoHome = new() { ["PEERCOMPUTE_HOME"] = "/nonexistent-pc-home", ["PEERCOMPUTE_IDENTITY_KEY"] = null };

    [Test]
    [Arguments("peerctl")]
    [Arguments("peercomputed")]
    [Arguments("gateway")]
    public async Task Every_help_page_shows_defaults_as_typed_and_the_program_in_usage(string program)
    {
        string binary = Artifacts.PathOf(Artifacts.LinuxX64, program);
        var root = await TestProcess.RunAsync(binary, ["--help"], NoHome);
        await Assert.That(root.ExitCode).IsEqualTo(0);
        await Assert.That(root.StandardOutput).Contains($"  {program} <command> --help");
        var commands = CommandLines().Matches(root.StandardOutput.Split("Commands:")[1].Split("\n\n")[0]).Select(m => m.Groups[1].Value).ToList();
        await Assert.That(commands.Count).IsGreaterThan(1);
        foreach (string command in commands.Prepend(""))
        {
            string[] args = [.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"];
            var help = await TestProcess.RunAsync(binary, args, NoHome);
            string page = help.StandardOutput;
            await Assert.That(help.ExitCode).IsEqualTo(0).Because($"{program} {command} --help: {help}");
            foreach (string noise in (string[])["@\"", "[Default:", "<int?>", "<string?>", "RepeatedOption", "Usage: [command]", "Usage: " + command + " "])
                await Assert.That(page.Contains(noise, StringComparison.Ordinal) && !(noise.EndsWith(' ') && command.Length == 0)).IsFalse().Because($"{program} {command} --help shows {noise}:\n{page}");
            await Assert.That(page).Contains(command.Length == 0 ? $"  {program} " : $"Usage: {program} {command}");
        }
    }

    [Test]
    public async Task Deploy_help_puts_each_example_on_its_own_line_and_a_group_has_its_own_page()
    {
        var deploy = await TestProcess.RunAsync(PeerNode.Peerctl, ["deploy", "--help"], NoHome);
        await Assert.That(deploy.StandardOutput).Contains("Usage: peerctl deploy IMAGE [options]\n");
        await Assert.That(deploy.StandardOutput).Contains("\nExamples:\n  peerctl deploy ghcr.io/sam/app:1.4 --peer maya --port 8080 --memory 256MB --env MODE=prod\n  peerctl deploy busybox --port 8080 -- httpd -f -p 8080\n");
        await Assert.That(deploy.StandardOutput).Contains("  --cpu CPU ");
        await Assert.That(deploy.StandardOutput).Contains("(default: 500m)");

        var peers = await TestProcess.RunAsync(PeerNode.Peerctl, ["peers", "--help"], NoHome);
        await Assert.That(peers.ExitCode).IsEqualTo(0);
        await Assert.That(peers.StandardOutput).StartsWith("Usage:\n  peerctl peers <command> [arguments] [options]\n");
        await Assert.That(peers.StandardOutput).Contains("  peers edit ");
        await Assert.That(peers.StandardOutput).DoesNotContain("deploy");

        var logs = await TestProcess.RunAsync(PeerNode.Peerctl, ["logs", "--help"], NoHome);
        await Assert.That(logs.StandardOutput).Contains("the container's stdout goes to stdout and its stderr to stderr");
    }

    [Test]
    [Arguments(new[] { "deploy", "web:1", "--prot", "8080" }, "error: 'peerctl deploy' has no option --prot. Did you mean --port? Run 'peerctl deploy --help' for its options.")]
    [Arguments(new[] { "statu" }, "error: Unknown command 'statu'. Did you mean 'peerctl status'? Run 'peerctl --help' for the list of commands.")]
    [Arguments(new[] { "peers", "ad", Maya }, "error: Unknown command 'peers ad'. Did you mean 'peerctl peers add'? Run 'peerctl --help' for the list of commands.")]
    [Arguments(new[] { "deploy", "web:1", "--port", "http" }, "error: --port takes a container port number, e.g. 8080; 'http' is not one.")]
    [Arguments(new[] { "logs", "web", "--tail", "all" }, "error: --tail takes a whole number (only the last N lines), e.g. 100; 'all' is not one.")]
    [Arguments(new[] { "logs" }, "error: 'peerctl logs' needs DEPLOYMENT (The deployment name or id; or an app's name, with SERVICE). Run 'peerctl logs --help'.")]
    public async Task A_typo_or_a_bad_value_gets_a_suggestion_and_exit_2(string[] args, string message)
    {
        var result = await TestProcess.RunAsync(PeerNode.Peerctl, args, NoHome);
        await Assert.That(result.ExitCode).IsEqualTo(2);
        await Assert.That(result.StandardError.TrimEnd()).IsEqualTo(message);
        await Assert.That(result.StandardOutput).IsEqualTo("");
    }

    [Test]
    public async Task Json_errors_go_to_stdout_for_init_and_usage_errors_without_unicode_escapes()
    {
        using var node = await PeerNode.CreateAsync("json-error");
        var init = await node.CtlAsync("init", "--json");
        await Assert.That(init.ExitCode).IsEqualTo(1);
        var error = JsonDocument.Parse(init.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("local_setup");
        await Assert.That(error.GetProperty("message").GetString()).Contains("already");

        var edit = await node.CtlAsync("peers", "edit", "nobody", "--name", "x", "--json");
        await Assert.That(edit.ExitCode).IsEqualTo(1);
        await Assert.That(edit.StandardOutput).Contains("'nobody'");
        await Assert.That(edit.StandardOutput).DoesNotContain("\\u0027");

        var usage = await node.CtlAsync("peers", "list", "--json", "--bogus");
        await Assert.That(usage.ExitCode).IsEqualTo(2);
        await Assert.That(JsonDocument.Parse(usage.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("usage");
    }

    [Test]
    public async Task Peers_edit_changes_addresses_and_name_in_place_and_add_hints_at_it_with_the_users_options()
    {
        using var node = await PeerNode.CreateAsync("edit");
        await node.CtlOkAsync("peers", "add", Maya, "--name", "maya", "--addr", "/ip4/127.0.0.1/tcp/9000");

        var again = await node.CtlAsync("peers", "add", Maya, "--name", "mia", "--addr", "/ip4/127.0.0.1/tcp/9001");
        await Assert.That(again.ExitCode).IsEqualTo(1);
        await Assert.That(again.StandardError.TrimEnd()).IsEqualTo($"error: Peer {Maya} is already trusted as 'maya'. Change it with: peerctl peers edit maya --name mia --addr /ip4/127.0.0.1/tcp/9001");

        string edited = await node.CtlOkAsync("peers", "edit", "maya", "--addr", "/ip4/127.0.0.1/tcp/9001", "--addr", "/ip4/127.0.0.1/tcp/9002");
        await Assert.That(edited.TrimEnd()).IsEqualTo($"Changed {Maya}: name 'maya', addresses /ip4/127.0.0.1/tcp/9001, /ip4/127.0.0.1/tcp/9002");
        await node.CtlOkAsync("peers", "edit", "maya", "--name", "mia");
        var peer = JsonDocument.Parse(await node.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers")[0];
        await Assert.That(peer.GetProperty("name").GetString()).IsEqualTo("mia");
        await Assert.That(peer.GetProperty("addrs").GetArrayLength()).IsEqualTo(2);

        var nothing = await node.CtlAsync("peers", "edit", "mia");
        await Assert.That(nothing.ExitCode).IsEqualTo(2);
    }

    [Test]
    public async Task Status_without_peer_asks_every_provider_and_shows_the_unreachable_one_as_a_row()
    {
        using var user = await PeerNode.CreateAsync("status-user");
        using var a = await PeerNode.CreateAsync("status-a");
        using var b = await PeerNode.CreateAsync("status-b");
        using var gone = await PeerNode.CreateAsync("status-gone");
        await a.TrustAsync(user, "user");
        await b.TrustAsync(user, "user");
        await using var daemonA = await ProviderProcess.StartAsync(a);
        await using var daemonB = await ProviderProcess.StartAsync(b);
        await user.TrustAsync(a, "alpha", daemonA.Address);
        await user.TrustAsync(b, "beta", daemonB.Address);
        // A port nothing listens on: the provider is down.
        await user.TrustAsync(gone, "gamma", $"/ip4/127.0.0.1/tcp/{FreePorts.One()}");

        var table = await user.CtlAsync("status");
        await Assert.That(table.ExitCode).IsEqualTo(0).Because(table.ToString());
        string[] lines = table.StandardOutput.Split('\n');
        await Assert.That(lines[0]).StartsWith("PROVIDER  NAME  ID  STATE");
        await Assert.That(lines.Count(l => l.StartsWith("gamma ", StringComparison.Ordinal) && l.Contains(" error  Could not reach provider gamma", StringComparison.Ordinal))).IsEqualTo(1);
        await Assert.That(table.StandardOutput).Contains("alpha: 0/10 deployments");
        await Assert.That(table.StandardOutput).Contains("beta: 0/10 deployments");
        await Assert.That(Sgr().IsMatch(table.StandardOutput)).IsFalse();

        // On a terminal the STATE column is coloured: the unreachable provider's "error" in red.
        var env = new Dictionary<string, string?>(user.Environment) { ["TERM"] = "xterm" };
        var terminal = await TestProcess.RunAsync("script", ["-qec", $"'{PeerNode.Peerctl}' status", "/dev/null"], env);
        await Assert.That(terminal.StandardOutput).Contains("\e[31merror\e[0m");

        var json = JsonDocument.Parse((await user.CtlAsync("status", "--json")).StandardOutput).RootElement.GetProperty("providers");
        await Assert.That(json.GetArrayLength()).IsEqualTo(3);
        var byName = json.EnumerateArray().ToDictionary(p => p.GetProperty("providerName").GetString()!);
        await Assert.That(byName["alpha"].GetProperty("provider").GetString()).IsEqualTo(a.PeerId);
        await Assert.That(byName["alpha"].GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        await Assert.That(byName["gamma"].GetProperty("error").GetProperty("code").GetString()).IsEqualTo("unreachable");

        // One provider named: the single-provider shape scripts already parse.
        var one = JsonDocument.Parse(await user.CtlOkAsync("status", "--peer", "alpha", "--json")).RootElement;
        await Assert.That(one.GetProperty("providerName").GetString()).IsEqualTo("alpha");
        await Assert.That(one.TryGetProperty("providers", out _)).IsFalse();

        // Only when none answers is it a failure.
        await daemonA.DisposeAsync();
        await daemonB.DisposeAsync();
        var none = await user.CtlAsync("status");
        await Assert.That(none.ExitCode).IsEqualTo(1);
        await Assert.That(none.StandardError).Contains("none of the 3 providers answered");
    }

    [Test]
    public async Task A_wrong_peer_id_at_a_right_address_names_the_real_one_and_verify_refuses_it()
    {
        using var user = await PeerNode.CreateAsync("noise-user");
        using var provider = await PeerNode.CreateAsync("noise-provider");
        using var other = await PeerNode.CreateAsync("noise-other");
        await provider.TrustAsync(user, "user");
        await using var daemon = await ProviderProcess.StartAsync(provider);
        // The user typed another valid id for this address.
        await user.TrustAsync(other, "maya", daemon.Address);

        var status = await user.CtlAsync("status", "--peer", "maya");
        await Assert.That(status.ExitCode).IsEqualTo(1);
        await Assert.That(status.StandardError).StartsWith($"error: The peer at {daemon.Address} is {provider.PeerId}, not the {other.PeerId} in your trust list.");
        await Assert.That(status.StandardError).Contains("peerctl peers remove maya, then peerctl peers add <the right id> --name maya --addr <address> --verify.");
        await Assert.That(status.StandardError).DoesNotContain("is the address");

        var refused = await user.CtlAsync("peers", "add", other.PeerId, "--name", "other", "--addr", daemon.Address, "--verify");
        await Assert.That(refused.ExitCode).IsEqualTo(1);
        await Assert.That(refused.StandardError).Contains($"The peer at {daemon.Address} is {provider.PeerId}, not the {other.PeerId}");
        await Assert.That(refused.StandardError).Contains("Nothing was added.");
        await Assert.That(await user.CtlOkAsync("peers", "list")).DoesNotContain(" other ");

        var verified = await user.CtlAsync("peers", "add", provider.PeerId, "--name", "real", "--addr", daemon.Address, "--verify");
        await Assert.That(verified.ExitCode).IsEqualTo(0).Because(verified.ToString());
        await Assert.That(verified.StandardError).Contains($"Verified: {provider.PeerId} answered at {daemon.Address}.");
        await Assert.That(await user.CtlOkAsync("peers", "list")).Contains("real");
    }

    [Test]
    public async Task Colour_on_a_terminal_only_and_never_with_NO_COLOR()
    {
        using var node = await PeerNode.CreateAsync("colour");
        var env = new Dictionary<string, string?>(node.Environment) { ["TERM"] = "xterm" };
        string command = $"'{PeerNode.Peerctl}' peers remove nobody";

        var terminal = await TestProcess.RunAsync("script", ["-qec", command, "/dev/null"], env);
        await Assert.That(terminal.StandardOutput).Contains("\e[1;31merror:\e[0m No trusted peer named or with id 'nobody'");

        env["NO_COLOR"] = "1";
        var noColor = await TestProcess.RunAsync("script", ["-qec", command, "/dev/null"], env);
        await Assert.That(noColor.StandardOutput).Contains("error: No trusted peer named or with id 'nobody'");
        await Assert.That(Sgr().IsMatch(noColor.StandardOutput)).IsFalse();

        var piped = await node.CtlAsync("peers", "remove", "nobody");
        await Assert.That(piped.StandardError).StartsWith("error: No trusted peer named or with id 'nobody'");
        await Assert.That(piped.StandardError).DoesNotContain("\e[");
    }

    [Test]
    public async Task Deploy_shows_the_pull_per_layer_on_a_terminal_and_one_line_per_step_in_a_pipe_and_empty_logs_say_so_on_a_terminal()
    {
        await using var registry = await LocalRegistry.StartAsync(Deploy.DeployWorkflowTests.TestImage, "peercompute-test/progress-", withPrivateEndpoint: false);
        string piped = $"{registry.Open}/{(await registry.PushFreshImageAsync()).Repository}:v1";
        string onTerminal = $"{registry.Open}/{(await registry.PushFreshImageAsync()).Repository}:v1";
        await using var cluster = await TrustedCluster.StartAsync("--allow-registry", registry.Open);
        var (_, user, _) = cluster;

        var result = await user.CtlAsync("deploy", piped, "--name", "piped", "--port", "8080", "--", "httpd", "-f", "-p", "8080");
        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        string[] lines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await Assert.That(lines.Any(l => l.EndsWith(": Pull complete", StringComparison.Ordinal))).IsTrue().Because(result.StandardError);
        await Assert.That(lines.Distinct().Count()).IsEqualTo(lines.Length).Because(result.StandardError);
        await Assert.That(result.StandardError.Contains('\r') || result.StandardError.Contains('\e')).IsFalse();

        var env = new Dictionary<string, string?>(user.Environment) { ["TERM"] = "xterm", ["CI"] = null };
        var terminal = await TestProcess.RunAsync("script", ["-qec", $"'{PeerNode.Peerctl}' deploy {onTerminal} --name term --port 8080 -- httpd -f -p 8080", "/dev/null"], env);
        await Assert.That(terminal.StandardOutput).Contains("Deployed term");
        // Each redraw goes back up over the layer lines and clears each one before writing it again.
        await Assert.That(terminal.StandardOutput).Contains("\e[2K");
        await Assert.That(Regex.IsMatch(terminal.StandardOutput, @"\e\[\d+A")).IsTrue();

        // httpd -f logs nothing: a terminal is told so on stderr, a script gets empty output.
        var emptyOnTerminal = await TestProcess.RunAsync("script", ["-qec", $"'{PeerNode.Peerctl}' logs piped", "/dev/null"], env);
        await Assert.That(emptyOnTerminal.StandardOutput).Contains("(no output yet)");
        var emptyPiped = await user.CtlAsync("logs", "piped");
        await Assert.That(emptyPiped.ExitCode).IsEqualTo(0);
        await Assert.That(emptyPiped.StandardOutput + emptyPiped.StandardError).IsEqualTo("");

        await user.CtlOkAsync("stop", "piped");
        await user.CtlOkAsync("stop", "term");
    }

    [Test]
    [Arguments("zsh", "bashcompinit")]
    [Arguments("fish", "complete -c peerctl -n '__fish_seen_subcommand_from peers' -a edit")]
    public async Task Zsh_and_fish_scripts_come_from_the_same_command_list(string shell, string expected)
    {
        var script = await TestProcess.RunAsync(PeerNode.Peerctl, ["completion", shell], NoHome);
        await Assert.That(script.ExitCode).IsEqualTo(0);
        await Assert.That(script.StandardOutput).Contains(expected);
        await Assert.That(script.StandardOutput).Contains("discover");
        var unknown = await TestProcess.RunAsync(PeerNode.Peerctl, ["completion", "tcsh"], NoHome);
        await Assert.That(unknown.ExitCode).IsEqualTo(2);
    }

    /// <summary>A colour or style escape (SGR); .NET's own keypad-mode escapes on a terminal are not colour.</summary>
    [GeneratedRegex(@"\e\[[0-9;]*m")]
    private static partial Regex Sgr();

    [GeneratedRegex(@"^  (\S+(?: \S+)?)  ", RegexOptions.Multiline)]
    private static partial Regex CommandLines();
}

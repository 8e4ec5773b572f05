using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Cli;

/// <summary>The published peerctl as a user and a script meet it: trust list commands, bad input, exit codes.</summary>
public class PeerctlCliTests
{
    private const string Maya = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    private const string Lee = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

    [Test]
    public async Task Peers_add_list_remove_round_trip_with_json()
    {
        using var node = await PeerNode.CreateAsync("cli");
        await node.CtlOkAsync("peers", "add", Maya, "--name", "maya", "--addr", "/ip4/127.0.0.1/tcp/9000", "--addr", "/ip6/::1/tcp/9000");
        await node.CtlOkAsync("peers", "add", Lee);
        var list = JsonDocument.Parse(await node.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers");
        await Assert.That(list.GetArrayLength()).IsEqualTo(2);
        var maya = list[0];
        await Assert.That(maya.GetProperty("peerId").GetString()).IsEqualTo(Maya);
        await Assert.That(maya.GetProperty("name").GetString()).IsEqualTo("maya");
        await Assert.That(maya.GetProperty("addrs").GetArrayLength()).IsEqualTo(2);
        await Assert.That(await node.CtlOkAsync("peers", "list")).Contains("maya");
        await node.CtlOkAsync("peers", "remove", "maya");
        await node.CtlOkAsync("peers", "remove", Lee);
        var empty = JsonDocument.Parse(await node.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers");
        await Assert.That(empty.GetArrayLength()).IsEqualTo(0);
    }

    [Test]
    [Arguments(new[] { "peers", "add", "not-a-peer-id" }, 1, "not a valid peer id")]
    [Arguments(new[] { "peers", "add", Maya, "--addr", "/ip4/1.2.3/tcp/1" }, 1, "not a valid multiaddr")]
    [Arguments(new[] { "peers", "remove", "nobody" }, 1, "No trusted peer")]
    [Arguments(new[] { "frobnicate" }, 2, "Unknown command")]
    [Arguments(new[] { "peers", "add" }, 2, "'peerctl peers add' needs INVITE|PEER-ID")]
    [Arguments(new[] { "peers", "list", "--bogus" }, 2, "has no option --bogus")]
    [Arguments(new[] { "deploy", "img", "--cpu", "lots" }, 2, "not a CPU amount")]
    [Arguments(new[] { "deploy", "img", "--memory", "12XB" }, 2, "not a size")]
    public async Task Bad_input_exits_non_zero_with_a_message(string[] args, int exitCode, string message)
    {
        using var node = await PeerNode.CreateAsync("cli");
        var result = await node.CtlAsync(args);
        await Assert.That(result.ExitCode).IsEqualTo(exitCode);
        await Assert.That(result.StandardError).Contains(message);
        await Assert.That(result.StandardError).StartsWith("error: ");
    }

    [Test]
    public async Task A_duplicate_name_is_refused_and_the_list_is_unchanged()
    {
        using var node = await PeerNode.CreateAsync("cli");
        await node.CtlOkAsync("peers", "add", Maya, "--name", "maya");
        var result = await node.CtlAsync("peers", "add", Lee, "--name", "maya");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        var list = JsonDocument.Parse(await node.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers");
        await Assert.That(list.GetArrayLength()).IsEqualTo(1);
    }

    [Test]
    public async Task Two_processes_adding_at_once_both_land()
    {
        using var node = await PeerNode.CreateAsync("cli");
        var ids = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            using var other = await PeerNode.CreateAsync("other");
            ids.Add(other.PeerId);
        }
        var results = await Task.WhenAll(ids.Select((id, i) => node.CtlAsync("peers", "add", id, "--name", $"p{i}")));
        await Assert.That(results.All(r => r.ExitCode == 0)).IsTrue();
        var list = JsonDocument.Parse(await node.CtlOkAsync("peers", "list", "--json")).RootElement.GetProperty("peers");
        await Assert.That(list.GetArrayLength()).IsEqualTo(8);
    }

    [Test]
    public async Task Help_documents_the_exit_codes_and_version_answers()
    {
        var help = await TestProcess.RunAsync(PeerNode.Peerctl, ["--help"]);
        await Assert.That(help.ExitCode).IsEqualTo(0);
        await Assert.That(help.StandardOutput).Contains("Exit codes: 0 ok, 1 the operation failed, 2 usage error.");
        await Assert.That(help.StandardOutput).Contains("deploy");
        var version = await TestProcess.RunAsync(PeerNode.Peerctl, ["--version"]);
        await Assert.That(version.ExitCode).IsEqualTo(0);
        await Assert.That(version.StandardOutput.Trim()).Matches(@"^\d+\.\d+\.\d+");
    }
}

using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>The script of <c>peerctl completion bash</c> (what the release ships), loaded into bash as bash-completion would, with the real peerctl on PATH.</summary>
internal sealed class CompletionTests
{
    [Test]
    [Arguments("peerctl ''", "--help --version completion deploy discover domain down history id init invite logs peers rollback status stop up url volume")]
    [Arguments("peerctl volume ''", "--help ls rm")]
    [Arguments("peerctl invite --", "--addr --expires --help --json --name")]
    [Arguments("peerctl st", "status stop")]
    [Arguments("peerctl peers ''", "--help add edit list remove")]
    [Arguments("peerctl deploy web:1 --p", "--peer --port")]
    [Arguments("peerctl logs web --", "--follow --help --peer --previous --tail")]
    [Arguments("peerctl deploy web:1 --peer m", "maya")]
    [Arguments("peerctl peers remove ''", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA maya")]
    [Arguments("peerctl deploy web:1 -- ''", "")]
    public async Task Completes_commands_options_and_trusted_peer_names(string line, string expected)
    {
        // A home whose trust list holds one named peer, read by the completion through `peerctl peers list`.
        string home = Path.Combine(ReleaseScripts.NewFolder("completion"), "home");
        var env = new Dictionary<string, string?>
        {
            ["PEERCOMPUTE_HOME"] = home,
            ["PEERCOMPUTE_IDENTITY_KEY"] = null,
            ["PATH"] = $"{Path.GetDirectoryName(PeerNode.Peerctl)}:{Environment.GetEnvironmentVariable("PATH")}",
        };
        var add = await TestProcess.RunAsync(PeerNode.Peerctl, ["peers", "add", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "--name", "maya"], env);
        await Assert.That(add.ExitCode).IsEqualTo(0).Because(add.ToString());

        var generated = await TestProcess.RunAsync(PeerNode.Peerctl, ["completion", "bash"], env);
        await Assert.That(generated.ExitCode).IsEqualTo(0).Because(generated.ToString());
        string file = Path.Combine(ReleaseScripts.NewFolder("completion-script"), "peerctl.bash");
        await File.WriteAllTextAsync(file, generated.StandardOutput);
        var syntax = await TestProcess.RunAsync("bash", ["-n", file]);
        await Assert.That(syntax.ExitCode).IsEqualTo(0).Because(syntax.ToString());

        string script = $$"""
            source {{file}}
            COMP_WORDS=({{line}})
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"
            COMP_POINT=${#COMP_LINE}
            _peerctl
            printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' '
            """;
        var result = await TestProcess.RunAsync("bash", ["--noprofile", "--norc", "-c", script], env);

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(result.StandardOutput.Trim()).IsEqualTo(expected);
    }
}

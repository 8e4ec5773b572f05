using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Ctl.Commands;

var commands = new Dictionary<string, int>
{
    ["init"] = 0,
    ["id"] = 0,
    ["invite"] = 0,
    ["peers add"] = 1,
    ["peers list"] = 0,
    ["peers remove"] = 1,
    ["deploy"] = 1,
    ["status"] = 0,
    ["logs"] = 1,
    ["stop"] = 1,
    ["discover"] = 0,
};
// peerctl deploy IMAGE [options] -- COMMAND ARGS...: everything after "--" is the container's command.
int dashes = Array.IndexOf(args, "--");
if (dashes >= 0)
{
    DeploymentCommands.ContainerCommand = args[(dashes + 1)..];
    args = args[..dashes];
}
if (CliApp.Prepare(ref args, "peerctl", "identity, trust list and deployments on trusted providers.", commands, "--addr", "--env") is { } exit)
    return exit;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<IdentityCommands>();
app.Add<PeersCommands>("peers");
app.Add<DeploymentCommands>();
app.Add<DiscoverCommands>();
await app.RunAsync(args).ConfigureAwait(false);
return CliApp.Finish();

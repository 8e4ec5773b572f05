using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Ctl.Commands;

// peerctl deploy IMAGE [options] -- COMMAND ARGS...: everything after "--" is the container's command.
int dashes = Array.IndexOf(args, "--");
if (dashes >= 0)
{
    DeploymentCommands.ContainerCommand = args[(dashes + 1)..];
    args = args[..dashes];
}

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<IdentityCommands>();
app.Add<PeersCommands>("peers");
app.Add<DeploymentCommands>();
app.Add<DiscoverCommands>();
app.Add<VolumeCommands>("volume");
app.Add<DomainCommands>("domain");
return await CliApp.RunAsync(args, "peerctl", "identity, trust list and deployments on trusted providers.", a => app.RunAsync(a)).ConfigureAwait(false);

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Ctl.Commands;

var commands = new Dictionary<string, int>
{
    ["init"] = 0,
    ["id"] = 0,
    ["peers add"] = 1,
    ["peers list"] = 0,
    ["peers remove"] = 1,
};
if (CliApp.Prepare(ref args, "peerctl", "identity, trust list and deployments on trusted providers.", commands, "--addr", "--env") is { } exit)
    return exit;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<IdentityCommands>();
app.Add<PeersCommands>("peers");
await app.RunAsync(args).ConfigureAwait(false);
return CliApp.Finish();

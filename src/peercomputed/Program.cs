using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Daemon.Commands;

var commands = new Dictionary<string, int>
{
    ["id"] = 0,
    ["invite"] = 0,
    ["firewall show"] = 0,
    ["firewall apply"] = 0,
    ["firewall remove"] = 0,
};
if (CliApp.Prepare(ref args, "peercomputed", "the Peer Compute provider daemon: runs trusted peers' containers.", commands, "--listen", "--allow-egress", "--allow-registry", "--relay") is { } exit)
    return exit;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<DaemonCommands>();
await app.RunAsync(args).ConfigureAwait(false);
return CliApp.Finish();

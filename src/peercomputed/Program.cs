using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Daemon.Commands;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<DaemonCommands>();
return await CliApp.RunAsync(args, "peercomputed", "the Peer Compute provider daemon: runs trusted peers' containers.", a => app.RunAsync(a)).ConfigureAwait(false);

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Daemon.Commands;
using PeerCompute.Daemon.Hosting;

// After SIGTERM the framework ends the process once its Timeout passes (5 s by default), and it reads the value when
// the run begins: give the drain of requests in flight (a deploy half-way, a pull) and of the tunnel its full time.
ConsoleApp.Timeout = ProviderDaemon.DrainTimeout + TimeSpan.FromSeconds(15);
var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<DaemonCommands>();
return await CliApp.RunAsync(args, "peercomputed", "the Peer Compute provider daemon: runs trusted peers' containers.", a => app.RunAsync(a)).ConfigureAwait(false);

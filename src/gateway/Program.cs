using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Gateway;

// After SIGTERM the framework ends the process once its Timeout passes (5 s by default), and it reads the value when
// the run begins, before the command sees its options: take --drain-seconds from the arguments now.
ConsoleApp.Timeout = ShutdownTimeout.FromArguments(args);
var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<GatewayCommands>();
return await CliApp.RunAsync(args, "gateway", "public HTTPS for Peer Compute deployments: serves https://<name>-<tag>.<domain> through each provider's outbound tunnel.", a => app.RunAsync(a)).ConfigureAwait(false);

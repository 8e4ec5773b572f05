using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Gateway;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<GatewayCommands>();
return await CliApp.RunAsync(args, "gateway", "public HTTPS for Peer Compute deployments: serves https://<name>-<tag>.<domain> through each provider's outbound tunnel.", a => app.RunAsync(a)).ConfigureAwait(false);

using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Gateway;

var commands = new Dictionary<string, int>
{
    ["pin"] = 0,
    ["id"] = 0,
    ["tag"] = 1,
};
if (CliApp.Prepare(ref args, "gateway", "public HTTPS for Peer Compute deployments: serves https://<name>-<tag>.<domain> through each provider's outbound tunnel.", commands, "--trust-provider") is { } exit)
    return exit;

var app = ConsoleApp.Create();
app.UseFilter<CliErrorFilter>();
app.Add<GatewayCommands>();
await app.RunAsync(args).ConfigureAwait(false);
return CliApp.Finish();

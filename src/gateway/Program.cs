// Placeholder until the real program lands; it answers --version so the release build can be checked
// (tests/PeerCompute.System.Tests/Build run every published binary with --version).
if (args is ["--version"])
{
    Console.Out.WriteLine(PeerCompute.Cli.CliApp.Version);
    return 0;
}
Console.Out.WriteLine("todo");
return 0;

using System.Text.Json;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>One machine's identity: its own PEERCOMPUTE_HOME, created with the real peerctl.</summary>
internal sealed class PeerNode : IDisposable
{
    private PeerNode(string home, string peerId)
    {
        Home = home;
        PeerId = peerId;
    }

    public string Home { get; }

    public string PeerId { get; }

    public static string Peerctl => Artifacts.PathOf(Artifacts.LinuxX64, "peerctl");

    public static string Peercomputed => Artifacts.PathOf(Artifacts.LinuxX64, "peercomputed");

    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["PEERCOMPUTE_HOME"] = Home,
        ["PEERCOMPUTE_IDENTITY_KEY"] = null,
        ["CI"] = "true",
    };

    public static async Task<PeerNode> CreateAsync(string label)
    {
        string home = Path.Combine(Directory.CreateTempSubdirectory($"pc-{label}-").FullName, "home");
        var env = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["PEERCOMPUTE_IDENTITY_KEY"] = null };
        var init = await TestProcess.RunAsync(Peerctl, ["init", "--json"], env);
        if (init.ExitCode != 0)
            throw new InvalidOperationException($"peerctl init failed: {init}");
        string id = JsonDocument.Parse(init.StandardOutput).RootElement.GetProperty("peerId").GetString()!;
        return new PeerNode(home, id);
    }

    /// <summary>Runs peerctl as this machine.</summary>
    public Task<ProcessResult> CtlAsync(params string[] args) => TestProcess.RunAsync(Peerctl, args, Environment, TimeSpan.FromMinutes(3));

    /// <summary>Runs a peercomputed command (not the daemon: e.g. <c>invite</c>) as this machine.</summary>
    public Task<ProcessResult> DaemonCommandAsync(params string[] args) => TestProcess.RunAsync(Peercomputed, args, Environment, TimeSpan.FromMinutes(1));

    public TestProcess StartCtl(params string[] args) => TestProcess.Start(Peerctl, args, Environment);

    /// <summary>Runs peerctl and requires exit 0; returns stdout.</summary>
    public async Task<string> CtlOkAsync(params string[] args)
    {
        var result = await CtlAsync(args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"peerctl {string.Join(' ', args)} failed: {result}");
        return result.StandardOutput;
    }

    public Task TrustAsync(PeerNode other, string name, string? addr = null) =>
        CtlOkAsync(addr is null ? ["peers", "add", other.PeerId, "--name", name, "--no-discover"] : ["peers", "add", other.PeerId, "--name", name, "--addr", addr]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path.GetDirectoryName(Home)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

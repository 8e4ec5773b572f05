using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Bench;

/// <summary>
/// bench/run.sh --smoke runs every benchmark of the tree in its seconds-long mode against the published programs:
/// each script that is there must still run and print its rows (no figures are judged here).
/// </summary>
internal sealed class BenchmarkSmokeTests
{
    /// <summary>The scripts bench/run.sh runs in --smoke mode, and the table rows each must write (issue 16).</summary>
    private static readonly (string Script, string[] Rows)[] Benchmarks =
    [
        ("bench/size/run.sh", ["size-peerctl", "size-peercomputed", "size-gateway", "idle-rss-peercomputed", "idle-rss-gateway",
            "start-peerctl", "start-peercomputed", "start-gateway"]),
        ("bench/public/run.sh", ["public-h1-rps", "public-h1-p99", "public-h2-rps", "public-download", "public-upload"]),
        ("bench/net/run.sh", ["libp2p-stream", "yamux-open-close"]),
        ("bench/deploy/bench.sh", ["deploy"]),
    ];

    [Test, Timeout(15 * 60 * 1000)]
    public async Task Smoke_run_exits_0_and_prints_every_row_of_the_benchmarks_present(CancellationToken cancellationToken)
    {
        Artifacts.Folder(Artifacts.LinuxX64);
        string root = Artifacts.RepoRoot;
        // A script takes part once it follows the contract (writes BENCH_ROWS rows); bench/run.sh skips the others.
        string[] expected = Benchmarks
            .Where(b => File.Exists(Path.Combine(root, b.Script)) && File.ReadAllText(Path.Combine(root, b.Script)).Contains("BENCH_ROWS", StringComparison.Ordinal))
            .SelectMany(b => b.Rows)
            .ToArray();

        var result = await TestProcess.RunAsync("bash", [Path.Combine(root, "bench", "run.sh"), "--smoke"],
            timeout: TimeSpan.FromMinutes(14), workingDirectory: root, cancellationToken: cancellationToken);

        await Assert.That(result.ExitCode).IsEqualTo(0).Because(result.ToString());
        await Assert.That(expected).Contains("size-gateway");
        string table = await File.ReadAllTextAsync(Path.Combine(root, "artifacts", "bench", "table.md"), cancellationToken);
        foreach (string row in expected)
        {
            await Assert.That(result.StandardOutput).Contains($"| {row} |").Because(result.ToString());
            await Assert.That(table).Contains($"| {row} |");
        }
        await Assert.That(table).Contains("load average at start");
    }
}

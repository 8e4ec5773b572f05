using System.Diagnostics;

namespace PeerCompute.Fuzz.Tests;

/// <summary>
/// A short coverage-guided campaign per target through build/fuzz.sh (afl-fuzz over the SharpFuzz-instrumented
/// assemblies). Fails with the finding paths when a target crashed or hung. One at a time: afl-fuzz wants a core.
/// PEERCOMPUTE_FUZZ_SECONDS sets the time per target (default 10).
/// </summary>
[NotInParallel("afl")]
public sealed class AflCampaignTests
{
    private static readonly Lazy<Task<(int ExitCode, string Output)>> Prepared = new(() => RunFuzzScriptAsync(["--prepare"], TimeSpan.FromMinutes(10)));

    private static int Seconds =>
        int.TryParse(Environment.GetEnvironmentVariable("PEERCOMPUTE_FUZZ_SECONDS"), out int s) && s > 0 ? s : 10;

    [Test]
    [MethodDataSource(typeof(Repository), nameof(Repository.TargetNames))]
    public async Task A_short_afl_campaign_finds_no_crash_or_hang(string name)
    {
        var (prepareExit, prepareOutput) = await Prepared.Value;
        await Assert.That(prepareExit).IsEqualTo(0).Because(prepareOutput);

        var (exit, output) = await RunFuzzScriptAsync(["--no-build", "--seconds", Seconds.ToString(), name], TimeSpan.FromSeconds(Seconds * 6 + 120));
        Console.WriteLine(output);
        await Assert.That(output).Contains(name);
        await Assert.That(exit).IsEqualTo(0).Because(output);
    }

    private static async Task<(int, string)> RunFuzzScriptAsync(string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("build/fuzz.sh");
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"build/fuzz.sh {string.Join(' ', arguments)} did not finish within {timeout}\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}

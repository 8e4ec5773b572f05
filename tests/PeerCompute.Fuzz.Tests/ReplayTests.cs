namespace PeerCompute.Fuzz.Tests;

/// <summary>
/// Every target's seeds, corpus and saved regressions, replayed in-process: fast, always run, and the place a fixed
/// crash stays fixed. A failure names the input file and what broke.
/// </summary>
[NotInParallel("fuzz-replay")] // the file-reading targets share one scratch folder per process
public sealed class ReplayTests
{
    [Test]
    [MethodDataSource(typeof(Repository), nameof(Repository.TargetNames))]
    public async Task Corpus_and_regressions_keep_the_parser_contract(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var inputs = new List<(string Name, byte[] Bytes)>();
        foreach (string folder in new[] { "corpus", "regressions" })
        {
            string dir = Path.Combine(Repository.Root, "tests", "fuzz", folder, name);
            if (Directory.Exists(dir))
                inputs.AddRange(Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Select(f => ($"{folder}/{name}/{Path.GetFileName(f)}", File.ReadAllBytes(f))));
        }
        inputs.AddRange(target.Seeds().Select(s => ($"generated seed {s.Name}", s.Bytes)));

        var failures = new List<string>();
        foreach (var (inputName, bytes) in inputs)
        {
            try
            {
                target.Run(bytes.AsSpan(0, Math.Min(bytes.Length, FuzzTarget.MaxInputLength)));
            }
            catch (Exception e)
            {
                failures.Add($"{inputName}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        await Assert.That(inputs.Count).IsGreaterThan(3);
        await Assert.That(failures).IsEmpty();
    }

    [Test]
    [MethodDataSource(typeof(Repository), nameof(Repository.TargetNames))]
    public async Task The_committed_corpus_holds_the_generated_seeds(string name)
    {
        // The corpus is what afl-fuzz starts from: regenerate it (PeerCompute.Fuzz seed tests/fuzz/corpus) when an
        // encoder changes, so campaigns start from inputs the parsers accept today.
        string dir = Path.Combine(Repository.Root, "tests", "fuzz", "corpus", name);
        var missing = FuzzTargets.Find(name)!.Seeds()
            .Where(s => !File.Exists(Path.Combine(dir, s.Name)) || !File.ReadAllBytes(Path.Combine(dir, s.Name)).AsSpan().SequenceEqual(s.Bytes))
            .Select(s => s.Name)
            .ToList();
        await Assert.That(missing).IsEmpty();
    }
}

public sealed class SeedTests
{
    [Test]
    public async Task The_noise_vector_seeds_complete_a_real_handshake_in_both_roles()
    {
        var target = new Targets.NoiseHandshakeTarget();
        long before = Targets.NoiseHandshakeTarget.CompletedHandshakes;
        foreach (var (name, bytes) in target.Seeds())
        {
            if (name is "responder-msg1-msg3" or "responder-chunked" or "initiator-msg2")
                target.Run(bytes);
        }
        await Assert.That(Targets.NoiseHandshakeTarget.CompletedHandshakes - before).IsEqualTo(3);
    }
}

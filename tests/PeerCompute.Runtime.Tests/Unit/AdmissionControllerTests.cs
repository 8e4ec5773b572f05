using PeerCompute.Runtime.Admission;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class AdmissionControllerTests
{
    [Test]
    public async Task Concurrent_admissions_never_overshoot_a_cap()
    {
        var admission = new AdmissionController(new RuntimeOptions { MaxMemoryBytes = 3 * RuntimeOptions.GiB });
        int admitted = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, (i, _) =>
        {
            try
            {
                admission.Admit($"d{i}", 10, RuntimeOptions.GiB);
                Interlocked.Increment(ref admitted);
            }
            catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.CapacityExceeded)
            {
            }
            return ValueTask.CompletedTask;
        });
        await Assert.That(admitted).IsEqualTo(3);
        await Assert.That(admission.Report(0).UsedMemoryBytes).IsEqualTo(3 * RuntimeOptions.GiB);
    }

    [Test]
    public async Task A_refusal_names_the_cap_and_what_is_free()
    {
        var admission = new AdmissionController(new RuntimeOptions());
        admission.Admit("a", 3500, RuntimeOptions.GiB);
        var cpu = Refusal(() => admission.Admit("b", 1000, RuntimeOptions.MiB));
        await Assert.That(cpu).IsEqualTo("max-cpu: requested 1000m, free 500m of 4000m");
        var memory = Refusal(() => admission.Admit("b", 100, 4 * RuntimeOptions.GiB));
        await Assert.That(memory).IsEqualTo("max-memory: requested 4 GiB, free 3 GiB of 4 GiB");
    }

    [Test]
    public async Task Releasing_frees_room_and_restoring_ignores_caps()
    {
        var admission = new AdmissionController(new RuntimeOptions { MaxDeploys = 1 });
        admission.Admit("a", 100, RuntimeOptions.GiB);
        await Assert.That(Refusal(() => admission.Admit("b", 100, RuntimeOptions.GiB))).StartsWith("max-deploys:");
        admission.Release("a");
        admission.Admit("b", 100, RuntimeOptions.GiB);
        // Found running on start: counted even past the cap, never refused.
        admission.Restore("c", 100, RuntimeOptions.GiB);
        var report = admission.Report(running: 2);
        await Assert.That(report.Deploys).IsEqualTo(2);
        await Assert.That(report.FreeDeploys).IsEqualTo(-1);
        await Assert.That(report.FreeCpuMillicores).IsEqualTo(3800);
        await Assert.That(report.Running).IsEqualTo(2);
    }

    private static string Refusal(Action action)
    {
        try
        {
            action();
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.CapacityExceeded)
        {
            return ex.Message;
        }
        throw new InvalidOperationException("admitted");
    }
}

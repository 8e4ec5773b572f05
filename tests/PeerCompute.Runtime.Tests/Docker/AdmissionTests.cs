using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

public sealed class AdmissionTests
{
    private const string Owner = "12D3KooWOwnerAdmission";

    [Test]
    public async Task Ten_concurrent_deploys_against_room_for_three_admit_exactly_three()
    {
        // Room for three by CPU: 3 x 300m fits in 1000m, a fourth does not.
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxCpuMillicores = 1000 });
        var runtime = harness.Runtime;
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                return (Status: await runtime.DeployAsync(RuntimeHarness.Busybox($"c{i}") with { CpuMillicores = 300 }, Owner), Error: (RuntimeException?)null);
            }
            catch (RuntimeException ex)
            {
                return (Status: (DeploymentStatus?)null, Error: ex);
            }
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(attempts);

        var admitted = results.Where(r => r.Status is not null).ToArray();
        var refused = results.Where(r => r.Error is not null).ToArray();
        await Assert.That(admitted.Length).IsEqualTo(3);
        await Assert.That(refused.Length).IsEqualTo(7);
        foreach (var (_, error) in refused)
        {
            await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
            await Assert.That(error.Message).Contains("max-cpu");
            await Assert.That(error.Message).Contains("free 100m of 1000m");
        }
        var capacity = runtime.GetCapacity();
        await Assert.That(capacity.UsedCpuMillicores).IsEqualTo(900);
        await Assert.That(capacity.FreeCpuMillicores).IsEqualTo(100);
        await Assert.That(capacity.Deploys).IsEqualTo(3);
        await Assert.That(capacity.Running).IsEqualTo(3);
        var containers = await Cli.DockerAsync("ps", "-q", "--filter", $"label=io.peercompute.instance={harness.Options.Instance}");
        await Assert.That(containers.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsEqualTo(3);
    }

    [Test]
    public async Task Memory_and_deploy_count_caps_are_named_in_the_refusal()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxMemoryBytes = 96 * RuntimeOptions.MiB, MaxDeploys = 2 });
        var runtime = harness.Runtime;
        await runtime.DeployAsync(RuntimeHarness.Busybox("first") with { MemoryBytes = 64 * RuntimeOptions.MiB }, Owner);

        var memory = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("second") with { MemoryBytes = 64 * RuntimeOptions.MiB }, Owner));
        await Assert.That(memory!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
        await Assert.That(memory.Message).Contains("max-memory");
        await Assert.That(memory.Message).Contains("free 32 MiB");

        await runtime.DeployAsync(RuntimeHarness.Busybox("second") with { MemoryBytes = 16 * RuntimeOptions.MiB }, Owner);
        var count = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("third") with { MemoryBytes = 8 * RuntimeOptions.MiB }, Owner));
        await Assert.That(count!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
        await Assert.That(count.Message).Contains("max-deploys");
    }
}

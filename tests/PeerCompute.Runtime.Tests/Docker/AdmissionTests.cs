using PeerCompute.Runtime.Status;
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

/// <summary>A name is its deployment's public hostname label: one holder per provider, whoever the owner.</summary>
public sealed class DeploymentNameTests
{
    private const string Alice = "12D3KooWAliceNames";
    private const string Bob = "12D3KooWBobNames";

    [Test]
    public async Task A_name_in_use_is_refused_for_its_owner_and_for_others_until_removed()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        var first = await runtime.DeployAsync(RuntimeHarness.Busybox("web"), Alice);

        var again = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("web"), Alice));
        var other = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(RuntimeHarness.Busybox("web"), Bob));
        await Assert.That(again!.Code).IsEqualTo(RuntimeErrorCode.NameTaken);
        await Assert.That(again.Message).Contains("You already have a deployment named 'web'");
        await Assert.That(other!.Code).IsEqualTo(RuntimeErrorCode.NameTaken);
        await Assert.That(other.Message).Contains("another user's deployment");
        // A refused name reserves nothing.
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(1);

        await runtime.RemoveAsync(first.Id, Alice);
        var bobs = await runtime.DeployAsync(RuntimeHarness.Busybox("web"), Bob);
        await Assert.That((await runtime.ListAsync(Bob)).Single().Id).IsEqualTo(bobs.Id);
    }

    [Test]
    public async Task Concurrent_deploys_of_one_name_by_two_owners_admit_exactly_one()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var runtime = harness.Runtime;
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await runtime.DeployAsync(RuntimeHarness.Busybox("shared"), i % 2 == 0 ? Alice : Bob);
                return (RuntimeErrorCode?)null;
            }
            catch (RuntimeException ex)
            {
                return ex.Code;
            }
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(attempts);

        await Assert.That(results.Count(r => r is null)).IsEqualTo(1);
        await Assert.That(results.Count(r => r == RuntimeErrorCode.NameTaken)).IsEqualTo(7);
        var containers = await Cli.DockerAsync("ps", "-q", "--filter", $"label=io.peercompute.instance={harness.Options.Instance}");
        await Assert.That(containers.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsEqualTo(1);
    }
}

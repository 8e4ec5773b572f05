using PeerCompute.Runtime.Admission;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>What a volume request may be (never a host path), how its storage is admitted, and the refusal where no loop devices exist.</summary>
public sealed class VolumeSpecTests
{
    private static readonly RuntimeOptions Options = new();

    private static DeploymentSpec With(params VolumeMount[] volumes) => new()
    {
        Name = "web",
        Image = "nginx:1.27",
        ContainerPort = 80,
        CpuMillicores = 500,
        MemoryBytes = 256 * RuntimeOptions.MiB,
        VolumeMounts = volumes,
    };

    private static string Refusal(DeploymentSpec spec)
    {
        try
        {
            DeploymentSpecValidator.Validate(spec, Options);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.InvalidSpec)
        {
            return ex.Message;
        }
        throw new InvalidOperationException("the request was accepted");
    }

    [Test]
    public async Task The_argument_is_name_path_and_an_optional_size()
    {
        await Assert.That(VolumeMount.TryParse("db:/var/lib/db:2GB", out var sized, out _)).IsTrue();
        await Assert.That(sized).IsEqualTo(new VolumeMount("db", "/var/lib/db", 2 * RuntimeOptions.GiB));
        await Assert.That(VolumeMount.TryParse("db:/data", out var plain, out _)).IsTrue();
        await Assert.That(plain.SizeBytes).IsNull();
        await Assert.That(VolumeMount.TryParse("db", out _, out string bare)).IsFalse();
        await Assert.That(bare).Contains("NAME:/path");
        await Assert.That(VolumeMount.TryParse("db:/data:lots", out _, out string size)).IsFalse();
        await Assert.That(size).Contains("'lots'");
        await Assert.That(VolumeMount.TryParse("a:/b:1G:x", out _, out _)).IsFalse();
    }

    [Test]
    [Arguments("/etc")]
    [Arguments("./data")]
    [Arguments("..")]
    [Arguments("Data")]
    [Arguments("my.volume")]
    [Arguments("-x")]
    [Arguments("")]
    public async Task A_source_that_is_not_a_plain_name_is_refused_and_never_read_as_a_host_path(string name)
        => await Assert.That(Refusal(With(new VolumeMount(name, "/data")))).Contains("host paths are never mounted");

    [Test]
    public async Task Paths_must_be_absolute_outside_the_containers_own_setup_and_apart()
    {
        await Assert.That(Refusal(With(new VolumeMount("a", "data")))).Contains("absolute path");
        await Assert.That(Refusal(With(new VolumeMount("a", "/")))).Contains("absolute path");
        await Assert.That(Refusal(With(new VolumeMount("a", "/srv/../etc")))).Contains("absolute path");
        await Assert.That(Refusal(With(new VolumeMount("a", "/proc/x")))).Contains("cannot be mounted at /proc/x");
        await Assert.That(Refusal(With(new VolumeMount("a", "/tmp")))).Contains("cannot be mounted at /tmp");
        await Assert.That(Refusal(With(new VolumeMount("a", "/srv"), new VolumeMount("b", "/srv/sub")))).Contains("overlaps");
        await Assert.That(Refusal(With(new VolumeMount("a", "/x"), new VolumeMount("a", "/y")))).Contains("mounted twice");
        DeploymentSpecValidator.Validate(With(new VolumeMount("db", "/var/lib/db"), new VolumeMount("cache_1", "/cache")), Options);
    }

    [Test]
    public async Task Sizes_are_bounded_by_the_minimum_and_the_whole_storage_cap()
    {
        await Assert.That(Refusal(With(new VolumeMount("a", "/d", RuntimeOptions.MiB)))).Contains("below the minimum of 16 MiB");
        await Assert.That(Refusal(With(new VolumeMount("a", "/d", 11 * RuntimeOptions.GiB)))).Contains("whole max-storage of 10 GiB");
    }

    [Test]
    public async Task Host_paths_in_the_old_field_stay_refused()
        => await Assert.That(Refusal(With() with { Volumes = ["/srv:/srv"] })).StartsWith("volumes:");

    [Test]
    public async Task Storage_is_admitted_with_cpu_and_memory_in_one_step_and_held_until_the_volume_goes()
    {
        var admission = new AdmissionController(new RuntimeOptions { MaxStorageBytes = 3 * RuntimeOptions.GiB });
        admission.Admit("a", 100, RuntimeOptions.MiB, [("v1", 2 * RuntimeOptions.GiB)]);
        var refused = Assert.Throws<RuntimeException>(() => admission.Admit("b", 100, RuntimeOptions.MiB, [("v2", 2 * RuntimeOptions.GiB)]));
        await Assert.That(refused!.Message).IsEqualTo("max-storage: new volumes need 2 GiB, free 1 GiB of 3 GiB");
        // Refused as a whole: the deployment holds nothing either.
        await Assert.That(admission.IsHeld("b")).IsFalse();
        // A volume that exists is not counted twice; releasing the deployment keeps the volume's storage.
        admission.Admit("c", 100, RuntimeOptions.MiB, [("v1", 2 * RuntimeOptions.GiB)]);
        admission.Release("a");
        await Assert.That(admission.Report(0).UsedStorageBytes).IsEqualTo(2 * RuntimeOptions.GiB);
        admission.ReleaseVolume("v1");
        await Assert.That(admission.Report(0).FreeStorageBytes).IsEqualTo(3 * RuntimeOptions.GiB);
    }

    [Test]
    public async Task Without_loop_devices_a_deploy_with_a_volume_is_refused_with_the_reason_and_others_still_run()
    {
        await using var harness = await MemoryRuntime.StartAsync(o => o with { LoopControlPath = "/nonexistent/loop-control" });
        var runtime = harness.Runtime;
        await Assert.That(runtime.VolumesProblem).Contains("/nonexistent/loop-control is absent");
        var refused = await Assert.ThrowsAsync<RuntimeException>(() => runtime.DeployAsync(MemoryRuntime.App() with { VolumeMounts = [new VolumeMount("db", "/data")] }, "12D3KooWOwnerMemory"));
        await Assert.That(refused!.Code).IsEqualTo(RuntimeErrorCode.VolumesUnavailable);
        await Assert.That(refused.Message).Contains("/nonexistent/loop-control is absent");
        await Assert.That(runtime.GetCapacity().Deploys).IsEqualTo(0);
        await runtime.DeployAsync(MemoryRuntime.App(), "12D3KooWOwnerMemory");
    }

    [Test]
    public async Task A_record_rebuilt_from_the_labels_keeps_its_volumes_in_use()
    {
        var record = new State.DeploymentRecord
        {
            Id = Engine.ContainerNaming.NewDeploymentId(),
            Owner = "12D3KooWOwnerMemory",
            Spec = With(new VolumeMount("db", "/var/lib/db"), new VolumeMount("cache", "/cache")),
            SpecHash = "h",
            CreatedAt = DateTimeOffset.UnixEpoch,
        };
        Images.ImageReference.TryParse(record.Spec.Image, out var image, out _);
        var definition = Engine.ContainerDefinition.For(record, image!, Options);
        await Assert.That(definition.Labels[Engine.ContainerNaming.Volumes]).IsEqualTo("db,cache");

        var rebuilt = Reconcile.LabelRecord.Rebuild(new Engine.ContainerSummary { Id = "c1", Labels = definition.Labels }, DateTimeOffset.UnixEpoch, out string? missing);
        await Assert.That(missing).IsNull();
        await Assert.That(rebuilt!.Spec.VolumeMounts!.Select(v => v.Name)).IsEquivalentTo(["db", "cache"]);
    }
}

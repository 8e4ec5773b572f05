using Docker.DotNet.Models;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Docker;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Images;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class SpecAndStoreTests
{
    private static DeploymentSpec Spec => new()
    {
        Name = "web",
        Image = "app:1",
        ContainerPort = 80,
        CpuMillicores = 100,
        MemoryBytes = 64 * RuntimeOptions.MiB,
        Environment = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" },
    };

    [Test]
    public async Task The_spec_hash_ignores_environment_order_and_credentials_but_not_content()
    {
        string hash = SpecHash.Compute(Spec);
        var reordered = Spec with { Environment = new Dictionary<string, string> { ["B"] = "2", ["A"] = "1" } };
        await Assert.That(SpecHash.Compute(reordered)).IsEqualTo(hash);
        await Assert.That(SpecHash.Compute(Spec with { RegistryCredentials = new RegistryCredentials("u", "p") })).IsEqualTo(hash);
        await Assert.That(SpecHash.Compute(Spec with { Image = "app:2" })).IsNotEqualTo(hash);
        await Assert.That(SpecHash.Compute(Spec with { MemoryBytes = 65 * RuntimeOptions.MiB })).IsNotEqualTo(hash);
    }

    [Test]
    public async Task Records_round_trip_without_credentials()
    {
        string folder = Path.Combine(Path.GetTempPath(), "pc-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new DeploymentStore(folder);
            store.EnsureFolders();
            var record = new DeploymentRecord
            {
                Id = ContainerNaming.NewDeploymentId(),
                Owner = "peer",
                Spec = Spec with { RegistryCredentials = new RegistryCredentials("alice", "hunter2"), Command = ["a", "b"] },
                SpecHash = "h",
                CreatedAt = DateTimeOffset.UtcNow,
                Phase = RecordPhase.Active,
                ContainerId = "c1",
            };
            await store.SaveAsync(record, CancellationToken.None);
            string text = await File.ReadAllTextAsync(Path.Combine(folder, "deployments", record.Id + ".json"));
            await Assert.That(text).DoesNotContain("hunter2");
            await Assert.That(text).Contains("\"phase\": \"Active\"");

            var loaded = (await store.LoadAllAsync([], CancellationToken.None)).Single();
            await Assert.That(loaded.Spec.RegistryCredentials).IsNull();
            await Assert.That(SpecHash.Compute(loaded.Spec)).IsEqualTo(SpecHash.Compute(record.Spec));
            await Assert.That(loaded.Spec.Environment["B"]).IsEqualTo("2");
            await Assert.That(string.Join(",", loaded.Spec.Command!)).IsEqualTo("a,b");
            await Assert.That(loaded.Phase).IsEqualTo(RecordPhase.Active);
            await Assert.That(loaded.ContainerId).IsEqualTo("c1");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task The_create_call_carries_every_confinement_field()
    {
        var options = new RuntimeOptions { Instance = "i1", PidsLimit = 99 };
        var record = new DeploymentRecord { Id = "0123456789abcdef", Owner = "peer", Spec = Spec, SpecHash = "h", CreatedAt = DateTimeOffset.UnixEpoch };
        var create = ContainerSpecBuilder.Build(record, ImageReference.Parse(Spec.Image), options);
        var host = create.HostConfig!;
        await Assert.That(create.Name).IsEqualTo("pc-0123456789abcdef");
        await Assert.That(host.Privileged).IsFalse();
        await Assert.That(string.Join(",", host.CapDrop)).IsEqualTo("ALL");
        await Assert.That(host.CapAdd.Count).IsEqualTo(0);
        await Assert.That(string.Join(",", host.SecurityOpt)).IsEqualTo("no-new-privileges");
        await Assert.That(host.NanoCPUs).IsEqualTo(100_000_000L);
        await Assert.That(host.MemorySwap).IsEqualTo(host.Memory);
        await Assert.That(host.PidsLimit).IsEqualTo(99L);
        await Assert.That(host.Init!.Value).IsTrue();
        await Assert.That(host.ReadonlyRootfs).IsTrue();
        await Assert.That(host.PortBindings["80/tcp"].Single().HostIP).IsEqualTo("127.0.0.1");
        await Assert.That(host.PortBindings["80/tcp"].Single().HostPort).IsEqualTo("");
        await Assert.That(host.RestartPolicy.Name).IsEqualTo(RestartPolicyKind.UnlessStopped);
        await Assert.That(create.Labels["io.peercompute.instance"]).IsEqualTo("i1");
        await Assert.That(create.Labels["io.peercompute.created-at"]).IsEqualTo("1970-01-01T00:00:00.0000000Z");
        await Assert.That(string.Join(",", create.Env)).IsEqualTo("A=1,B=2");
    }

    [Test]
    public async Task The_writable_layer_cap_becomes_the_size_storage_option_and_no_cap_sends_none()
    {
        var options = new RuntimeOptions { Instance = "i1" };
        var record = new DeploymentRecord { Id = "0123456789abcdef", Owner = "peer", Spec = Spec, SpecHash = "h", CreatedAt = DateTimeOffset.UnixEpoch };
        var image = ImageReference.Parse(Spec.Image);
        var capped = ContainerSpecBuilder.Build(ContainerDefinition.For(record, image, options, writableLayerBytes: 64 * RuntimeOptions.MiB));
        await Assert.That(capped.HostConfig!.StorageOpt!["size"]).IsEqualTo("67108864");
        var uncapped = ContainerSpecBuilder.Build(ContainerDefinition.For(record, image, options));
        await Assert.That(uncapped.HostConfig!.StorageOpt).IsNull();
    }

    [Test]
    public async Task A_pinned_digest_must_be_among_the_images_repo_digests()
    {
        const string digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        var pinned = ImageReference.Parse("127.0.0.1:5000/app@" + digest);
        ImagePuller.VerifyDigest(pinned, new ImageInspectResponse { ID = "x", RepoDigests = ["127.0.0.1:5000/app@" + digest] });
        ImagePuller.VerifyDigest(ImageReference.Parse("docker.io/library/busybox@" + digest), new ImageInspectResponse { ID = "x", RepoDigests = ["busybox@" + digest] });
        var error = await Assert.ThrowsAsync<RuntimeException>(() =>
        {
            ImagePuller.VerifyDigest(pinned, new ImageInspectResponse { ID = "x", RepoDigests = ["127.0.0.1:5000/other@" + digest] });
            return Task.CompletedTask;
        });
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.DigestMismatch);
    }

    [Test]
    public async Task Engine_error_bodies_are_reduced_to_their_reason()
    {
        await Assert.That(DockerErrorTranslator.EngineMessage("{\"message\":\"No such container: x\"}")).IsEqualTo("No such container: x");
        await Assert.That(DockerErrorTranslator.EngineMessage("plain text\n")).IsEqualTo("plain text");
        await Assert.That(DockerErrorTranslator.EngineMessage("")).IsEqualTo("(no reason given)");
    }
}

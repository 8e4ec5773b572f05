using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Engine;
using PeerCompute.Runtime.Reconcile;
using PeerCompute.Runtime.State;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>A deployment's access rule: checked, stored, labelled, and never turned public by a recovery.</summary>
public sealed class DeploymentAccessTests
{
    private static readonly RuntimeOptions Options = new();

    private static DeploymentSpec Spec => new()
    {
        Name = "web",
        Image = "peercompute-test/busybox:latest",
        ContainerPort = 8080,
        CpuMillicores = 500,
        MemoryBytes = 128 * RuntimeOptions.MiB,
    };

    [Test]
    public async Task A_basic_deployment_needs_a_user_and_a_usable_hash_and_other_modes_take_neither()
    {
        string hash = PasswordHash.Create("pw", PasswordHash.MinIterations);

        DeploymentSpecValidator.Validate(Spec with { Access = AccessMode.Basic, BasicUser = "maya", BasicPasswordHash = hash }, Options);
        DeploymentSpecValidator.Validate(Spec with { Access = AccessMode.Private }, Options);
        await Assert.That(Refused(Spec with { Access = AccessMode.Basic, BasicPasswordHash = hash }).Message).StartsWith("basic user:");
        await Assert.That(Refused(Spec with { Access = AccessMode.Basic, BasicUser = "a:b", BasicPasswordHash = hash }).Message).StartsWith("basic user:");
        await Assert.That(Refused(Spec with { Access = AccessMode.Basic, BasicUser = "maya", BasicPasswordHash = "plaintext" }).Message).StartsWith("basic password hash:");
        await Assert.That(Refused(Spec with { Access = AccessMode.Private, BasicUser = "maya" }).Message).StartsWith("access:");
        await Assert.That(Refused(Spec with { Access = (AccessMode)9 }).Message).StartsWith("access:");
    }

    [Test]
    public async Task The_spec_hash_of_a_public_deployment_is_what_it_was_before_access_rules_and_a_rule_changes_it()
    {
        string before = SpecHash.Compute(Spec);

        await Assert.That(SpecHash.Compute(Spec with { Access = AccessMode.Public })).IsEqualTo(before);
        await Assert.That(SpecHash.Compute(Spec with { Access = AccessMode.Private })).IsNotEqualTo(before);
    }

    [Test]
    public async Task The_gateway_is_told_the_owner_of_a_private_deployment_and_the_hash_of_a_basic_one()
    {
        using var owner = PeerIdentity.Generate();
        string hash = PasswordHash.Create("pw", PasswordHash.MinIterations);

        var @private = DeploymentAccess.For(Record(Spec with { Access = AccessMode.Private }, owner.PeerId.ToString()));
        var basic = DeploymentAccess.For(Record(Spec with { Access = AccessMode.Basic, BasicUser = "maya", BasicPasswordHash = hash }, owner.PeerId.ToString()));
        var ownerless = DeploymentAccess.For(Record(Spec with { Access = AccessMode.Private }, "not a peer id"));

        await Assert.That(@private).IsEqualTo(new RouteAccess(AccessMode.Private, owner.PeerId));
        await Assert.That(basic.BasicPasswordHash).IsEqualTo(hash);
        await Assert.That(basic.Problem()).IsNull();
        // No owner: the gateway refuses the route instead of serving it.
        await Assert.That(ownerless.Problem()).IsNotNull();
    }

    [Test]
    public async Task A_record_rebuilt_from_labels_is_private_unless_its_label_says_public_and_public_without_a_label()
    {
        PeerCompute.Runtime.Images.ImageReference.TryParse(Spec.Image, out var image, out _);
        var labels = ContainerDefinition.For(Record(Spec with { Access = AccessMode.Basic, BasicUser = "u", BasicPasswordHash = "h" }, "owner"), image!, Options).Labels;
        async Task<AccessMode> RebuiltAsync(string? access)
        {
            var copy = new Dictionary<string, string>(labels);
            if (access is null)
                copy.Remove(ContainerNaming.Access);
            else
                copy[ContainerNaming.Access] = access;
            var rebuilt = LabelRecord.Rebuild(new ContainerSummary { Id = "c1", Labels = copy }, DateTimeOffset.UtcNow, out string? missing);
            await Assert.That(rebuilt).IsNotNull().Because(missing ?? "");
            return rebuilt!.Spec.Access;
        }

        await Assert.That(labels[ContainerNaming.Access]).IsEqualTo("basic");
        await Assert.That(await RebuiltAsync("basic")).IsEqualTo(AccessMode.Private);
        await Assert.That(await RebuiltAsync("private")).IsEqualTo(AccessMode.Private);
        await Assert.That(await RebuiltAsync("something new")).IsEqualTo(AccessMode.Private);
        await Assert.That(await RebuiltAsync("public")).IsEqualTo(AccessMode.Public);
        await Assert.That(await RebuiltAsync(null)).IsEqualTo(AccessMode.Public);
    }

    private static DeploymentRecord Record(DeploymentSpec spec, string owner) => new()
    {
        Id = ContainerNaming.NewDeploymentId(),
        Owner = owner,
        Spec = spec,
        SpecHash = SpecHash.Compute(spec),
        CreatedAt = DateTimeOffset.UtcNow,
    };

    private static RuntimeException Refused(DeploymentSpec spec)
    {
        try
        {
            DeploymentSpecValidator.Validate(spec, Options);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.InvalidSpec)
        {
            return ex;
        }
        throw new InvalidOperationException("the request was accepted");
    }
}

using PeerCompute.Runtime.Logs;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Tests.Fakes;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>Updates over the in-memory engine: revisions, their bound, admission during the overlap, and the kept log.</summary>
public sealed class MemoryUpdateTests
{
    private const string Owner = "12D3KooWOwnerMemoryUpdates";
    private static readonly UpdateOptions Rolling = new();

    [Test]
    public async Task Each_revision_has_a_container_of_its_own_and_the_deployment_keeps_its_id()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.Images.UnionWith(["app:2", "app:3", "app:4"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        var updated = await harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = "app:2" }, Rolling);

        await Assert.That(updated.Status.Id).IsEqualTo(first.Id);
        await Assert.That(updated.Status.ContainerId).IsNotEqualTo(first.ContainerId);
        await Assert.That(harness.Engine.ContainerIds).IsEquivalentTo([updated.Status.ContainerId!]);
        await Assert.That(harness.Engine.Calls).Contains("remove " + first.ContainerId);
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(1);
    }

    [Test]
    public async Task An_update_or_rollback_of_a_private_deployment_keeps_its_route_private()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.Images.UnionWith(["app:2"]);
        var spec = MemoryRuntime.App() with { Access = PeerCompute.Core.Access.AccessMode.Private };
        var first = await harness.Runtime.DeployAsync(spec, Owner);
        string name = first.Name;
        await Assert.That(harness.Runtime.Routes.AccessSnapshot()[name].Mode).IsEqualTo(PeerCompute.Core.Access.AccessMode.Private);

        await harness.Runtime.UpdateAsync(first.Id, Owner, spec with { Image = "app:2" }, Rolling);
        // Without its rule the route would be served to anyone: the access map is what the gateway is told.
        await Assert.That(harness.Runtime.Routes.AccessSnapshot().TryGetValue(name, out var afterUpdate)).IsTrue();
        await Assert.That(afterUpdate!.Mode).IsEqualTo(PeerCompute.Core.Access.AccessMode.Private);

        await harness.Runtime.RollbackAsync(first.Id, Owner, Rolling);
        await Assert.That(harness.Runtime.Routes.AccessSnapshot().TryGetValue(name, out var afterRollback)).IsTrue();
        await Assert.That(afterRollback!.Mode).IsEqualTo(PeerCompute.Core.Access.AccessMode.Private);
    }

    [Test]
    public async Task History_is_bounded_and_survives_a_provider_restart()
    {
        await using var harness = await MemoryRuntime.StartAsync(o => o with { RevisionHistory = 2 });
        harness.Engine.Images.UnionWith(["app:2", "app:3", "app:4"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        for (int i = 2; i <= 4; i++)
            await harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = $"app:{i}" }, Rolling);

        var restarted = await harness.OpenAsync();
        var history = await restarted.GetHistoryAsync(first.Id, Owner);

        await Assert.That(history.Select(r => (r.Number, r.Image, r.Result))).IsEquivalentTo([(3, "app:3", RevisionResult.Replaced), (4, "app:4", RevisionResult.Running)]);
        var rolledBack = await restarted.RollbackAsync(first.Id, Owner, Rolling);
        await Assert.That(rolledBack.Status.Image).IsEqualTo("app:3");
        await Assert.That(rolledBack.Revision).IsEqualTo(5);
    }

    [Test]
    public async Task The_overlap_counts_against_the_caps_and_recreate_needs_no_room_for_two()
    {
        await using var harness = await MemoryRuntime.StartAsync(o => o with { MaxDeploys = 1 });
        harness.Engine.Images.UnionWith(["app:2", "app:3", "app:4"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = "app:2" }, Rolling));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
        await Assert.That(error.Message).Contains("max-deploys");
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(1);
        await Assert.That(harness.Engine.ContainerIds).IsEquivalentTo([first.ContainerId!]);

        var recreated = await harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = "app:2" }, new UpdateOptions(UpdateStrategy.Recreate));
        await Assert.That(recreated.Status.Image).IsEqualTo("app:2");
        await Assert.That(harness.Runtime.GetCapacity().Deploys).IsEqualTo(1);
    }

    [Test]
    public async Task Rollback_without_an_earlier_revision_is_refused()
    {
        await using var harness = await MemoryRuntime.StartAsync();
        harness.Engine.Images.UnionWith(["app:2", "app:3", "app:4"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.RollbackAsync(first.Id, Owner, Rolling));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
        await Assert.That(error.Message).Contains("no earlier revision");
    }

    [Test]
    public async Task The_replaced_containers_log_is_kept_within_its_cap_newest_lines_first_to_stay()
    {
        await using var harness = await MemoryRuntime.StartAsync(o => o with { PreviousLogsBytes = 200 });
        harness.Engine.Images.UnionWith(["app:2", "app:3", "app:4"]);
        var first = await harness.Runtime.DeployAsync(MemoryRuntime.App(), Owner);
        for (int i = 0; i < 20; i++)
            harness.Engine.Write(first.ContainerId!, $"line {i}", i % 2 == 0 ? LogStream.Stdout : LogStream.Stderr);
        await harness.Runtime.UpdateAsync(first.Id, Owner, MemoryRuntime.App() with { Image = "app:2" }, Rolling);

        var kept = new List<ContainerLogLine>();
        await foreach (var line in harness.Runtime.ReadPreviousLogsAsync(first.Id, Owner))
            kept.Add(line);

        await Assert.That(kept.Count).IsGreaterThan(0);
        await Assert.That(kept.Count).IsLessThan(20);
        await Assert.That(kept[^1].Text).IsEqualTo("line 19");
        await Assert.That(kept[^1].Stream).IsEqualTo(LogStream.Stderr);
        await Assert.That(kept.Select(l => l.Text)).DoesNotContain("line 0");
    }
}

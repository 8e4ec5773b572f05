using System.Net;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Readiness;
using PeerCompute.Runtime.State;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// Updates on a real engine: the deployment (id, name, route) stays, its container is replaced by a new revision that
/// must be ready before it takes the route; a failed one leaves the old one serving.
/// </summary>
public sealed class UpdateTests
{
    private const string Owner = "12D3KooWOwnerUpdates";
    private static readonly UpdateOptions Rolling = new(UpdateStrategy.Rolling, new ReadinessOptions { Timeout = TimeSpan.FromSeconds(30) });

    /// <summary>Serves a page saying <paramref name="version"/> (after writing a line to its log).</summary>
    private static DeploymentSpec Version(string name, string version) => RuntimeHarness.Busybox(name, RuntimeHarness.Shell(
        $"echo starting {version}; mkdir -p /tmp/www && echo {version} > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"));

    private static async Task<string> GetAsync(HttpClient client, ContainerRuntime runtime, string name)
    {
        if (!runtime.Routes.TryGetUpstream(name, out var upstream))
            throw new InvalidOperationException($"no route for {name}");
        return (await client.GetStringAsync($"http://{upstream}/")).Trim();
    }

    [Test]
    public async Task A_rolling_update_under_load_fails_no_request_and_keeps_the_id_and_route()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { UpdateDrainTimeout = TimeSpan.FromSeconds(10) });
        var first = await harness.Runtime.DeployAsync(Version("rolling", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());
        using var client = new HttpClient();
        await Assert.That(await GetAsync(client, harness.Runtime, "rolling")).IsEqualTo("v1");

        // The public path's view: every request resolves the route afresh, as the tunnel does per connection.
        using var stopLoad = new CancellationTokenSource();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var load = Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                try
                {
                    seen.Enqueue(await GetAsync(client, harness.Runtime, "rolling"));
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException)
                {
                    failures.Enqueue(ex.Message);
                }
            }
        });
        var updated = await harness.Runtime.UpdateAsync(first.Id, Owner, Version("rolling", "v2"), Rolling);
        // Load goes on past the old container's stop, onto the new one alone.
        await Eventually.WaitAsync(() => Task.FromResult(seen.Count(v => v == "v2") >= 20), "requests answered by v2");
        await stopLoad.CancelAsync();
        await load;
        var answers = seen.ToList();

        await Assert.That(failures).IsEmpty();
        await Assert.That(answers).Contains("v1");
        await Assert.That(answers[^1]).IsEqualTo("v2");
        // Once v2 answered, v1 never did again.
        await Assert.That(answers.Skip(answers.IndexOf("v2")).All(v => v == "v2")).IsTrue();
        await Assert.That(updated.Status.Id).IsEqualTo(first.Id);
        await Assert.That(updated.Revision).IsEqualTo(2);
        var list = await harness.Runtime.ListAsync(Owner);
        await Assert.That(list.Count).IsEqualTo(1);
        await Assert.That(list[0].ContainerId).IsEqualTo(updated.Status.ContainerId);
        // The old container is gone, its log kept.
        var old = await Cli.DockerAsync("inspect", first.ContainerId!);
        await Assert.That(old.ExitCode).IsNotEqualTo(0);
        var previous = new List<string>();
        await foreach (var line in harness.Runtime.ReadPreviousLogsAsync(first.Id, Owner))
            previous.Add(line.Text);
        await Assert.That(previous).Contains("starting v1");
        var history = await harness.Runtime.GetHistoryAsync(first.Id, Owner);
        await Assert.That(history.Select(r => (r.Number, r.Result))).IsEquivalentTo([(1, RevisionResult.Replaced), (2, RevisionResult.Running)]);
        await Assert.That(history.All(r => r.ImageDigest?.StartsWith("sha256:", StringComparison.Ordinal) == true)).IsTrue();
        // Capacity: one deployment's share again, not two.
        await Assert.That(harness.Runtime.GetCapacity().UsedMemoryBytes).IsEqualTo(64 * RuntimeOptions.MiB);
    }

    [Test]
    public async Task An_update_whose_container_exits_leaves_the_old_one_serving_and_says_why_with_its_last_lines()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = await harness.Runtime.DeployAsync(Version("exiting", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());
        var broken = RuntimeHarness.Busybox("exiting", RuntimeHarness.Shell("echo cannot open database; exit 3"));

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, Owner, broken, Rolling));

        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.UpdateFailed);
        // Its exit code when the engine still shows it stopped; once its restart policy started it again, that it was restarted.
        await Assert.That(error.Message).Matches("the new container exited (with code 3|and was restarted [0-9]+ time\\(s\\) by its restart policy)");
        await Assert.That(error.Message).Contains("cannot open database");
        await Assert.That(error.Message).Contains("previous version keeps serving");
        using var client = new HttpClient();
        await Assert.That(await GetAsync(client, harness.Runtime, "exiting")).IsEqualTo("v1");
        var status = await harness.Runtime.GetStatusAsync(first.Id, Owner, includeUsage: false);
        await Assert.That(status.ContainerId).IsEqualTo(first.ContainerId);
        // The failed container is removed; only the first remains.
        var containers = await Cli.DockerAsync("ps", "-aq", "--filter", $"label=io.peercompute.instance={harness.Options.Instance}");
        await Assert.That(containers.EnsureSuccess("docker ps").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsEqualTo(1);
        var previous = new List<string>();
        await foreach (var line in harness.Runtime.ReadPreviousLogsAsync(first.Id, Owner))
            previous.Add(line.Text);
        await Assert.That(previous).Contains("cannot open database");
        var history = await harness.Runtime.GetHistoryAsync(first.Id, Owner);
        await Assert.That(history.Select(r => (r.Number, r.Result))).IsEquivalentTo([(1, RevisionResult.Running), (2, RevisionResult.Failed)]);
        await Assert.That(harness.Runtime.GetCapacity().UsedMemoryBytes).IsEqualTo(64 * RuntimeOptions.MiB);
    }

    [Test]
    public async Task An_update_whose_container_never_answers_leaves_the_old_one_serving()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = await harness.Runtime.DeployAsync(Version("silent", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());
        var silent = RuntimeHarness.Busybox("silent", RuntimeHarness.Shell("echo listening elsewhere; exec httpd -f -p 9999 -h /www"));

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, Owner, silent,
            new UpdateOptions(UpdateStrategy.Rolling, new ReadinessOptions { Timeout = TimeSpan.FromSeconds(2) })));

        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.UpdateFailed);
        await Assert.That(error.Message).Contains("did not answer on port 8080");
        await Assert.That(error.Message).Contains("listening elsewhere");
        using var client = new HttpClient();
        await Assert.That(await GetAsync(client, harness.Runtime, "silent")).IsEqualTo("v1");
    }

    [Test]
    public async Task Rollback_returns_to_the_previous_spec_and_history_lists_every_revision()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = await harness.Runtime.DeployAsync(Version("back", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());
        await harness.Runtime.UpdateAsync(first.Id, Owner, Version("back", "v2"), Rolling);
        using var client = new HttpClient();
        await Assert.That(await GetAsync(client, harness.Runtime, "back")).IsEqualTo("v2");

        var rolledBack = await harness.Runtime.RollbackAsync(first.Id, Owner, Rolling);

        await Assert.That(await GetAsync(client, harness.Runtime, "back")).IsEqualTo("v1");
        await Assert.That(rolledBack.Status.Id).IsEqualTo(first.Id);
        await Assert.That(rolledBack.Revision).IsEqualTo(3);
        var history = await harness.Runtime.GetHistoryAsync(first.Id, Owner);
        await Assert.That(history.Select(r => (r.Number, r.Result))).IsEquivalentTo(
            [(1, RevisionResult.Replaced), (2, RevisionResult.RolledBack), (3, RevisionResult.Running)]);
        await Assert.That(history[^1].RollbackOf).IsEqualTo(1);
        var previous = new List<string>();
        await foreach (var line in harness.Runtime.ReadPreviousLogsAsync(first.Id, Owner))
            previous.Add(line.Text);
        await Assert.That(previous).Contains("starting v2");
    }

    [Test]
    public async Task Without_room_for_both_a_rolling_update_is_refused_clearly_and_recreate_fits()
    {
        await using var harness = await RuntimeHarness.StartAsync(o => o with { MaxMemoryBytes = 100 * RuntimeOptions.MiB });
        var first = await harness.Runtime.DeployAsync(Version("tight", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, Owner, Version("tight", "v2"), Rolling));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.CapacityExceeded);
        await Assert.That(error.Message).Contains("beside the running one");
        await Assert.That(error.Message).Contains("max-memory");
        await Assert.That(error.Message).Contains("--strategy recreate");
        using var client = new HttpClient();
        await Assert.That(await GetAsync(client, harness.Runtime, "tight")).IsEqualTo("v1");

        var recreated = await harness.Runtime.UpdateAsync(first.Id, Owner, Version("tight", "v2"), Rolling with { Strategy = UpdateStrategy.Recreate });
        await Assert.That(recreated.Revision).IsEqualTo(2);
        await Assert.That(await GetAsync(client, harness.Runtime, "tight")).IsEqualTo("v2");
        await Assert.That(harness.Runtime.GetCapacity().UsedMemoryBytes).IsEqualTo(64 * RuntimeOptions.MiB);
    }

    [Test]
    public async Task A_failed_recreate_starts_the_old_container_again()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = await harness.Runtime.DeployAsync(Version("again", "v1"), Owner);
        await harness.Runtime.WaitUntilReadyAsync(first, new ReadinessOptions());
        var broken = RuntimeHarness.Busybox("again", RuntimeHarness.Shell("echo broken; exit 4"));

        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, Owner, broken, Rolling with { Strategy = UpdateStrategy.Recreate }));

        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.UpdateFailed);
        using var client = new HttpClient();
        await Eventually.WaitAsync(async () =>
        {
            try
            {
                return await GetAsync(client, harness.Runtime, "again") == "v1";
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException)
            {
                return false;
            }
        }, "the old container serving again");
    }

    [Test]
    public async Task Another_owners_deployment_of_the_name_stays_name_taken()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var first = await harness.Runtime.DeployAsync(Version("shared", "v1"), Owner);
        var error = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.DeployAsync(Version("shared", "v2"), "12D3KooWSomeoneElse"));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.NameTaken);
        var update = await Assert.ThrowsAsync<RuntimeException>(() => harness.Runtime.UpdateAsync(first.Id, "12D3KooWSomeoneElse", Version("shared", "v2"), Rolling));
        await Assert.That(update!.Code).IsEqualTo(RuntimeErrorCode.NotFound);
    }
}

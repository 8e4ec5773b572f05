using System.Globalization;
using System.Text.Json;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>
/// Health checks and restarts through peerctl and the published peercomputed on a real dockerd: a failing HTTP health
/// check fails the deploy and shows as unhealthy, a crash loop is held back with a capped backoff that status shows,
/// at a small cost in the provider's CPU, and the restart policy is the deployment's own.
/// </summary>
[NotInParallel("system")]
public class HealthAndRestartTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>
    /// httpd answering 500 at /health.sh, at every check (a CGI script run through httpd's interpreter setting: the
    /// deployment's /tmp is noexec). Not an nc loop: between two of its connections nothing listens, and a check that
    /// lands there fails for another reason than the one under test.
    /// </summary>
    private const string Answering500 = """
        mkdir -p /tmp/www
        printf 'printf "Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nsick\\n"\n' > /tmp/www/health.sh
        echo '*.sh:/bin/sh' > /tmp/httpd.conf
        exec httpd -f -p 8080 -h /tmp/www -c /tmp/httpd.conf
        """;

    [Test]
    public async Task A_health_path_answering_500_fails_the_deploy_and_status_says_unhealthy()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        var result = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "sick", "--json",
            "--health-http", "/health.sh", "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "2",
            "--", "sh", "-c", Answering500);
        await Assert.That(result.ExitCode).IsEqualTo(1).Because(result.ToString());
        await Assert.That(JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("not_answering");
        await Assert.That(result.StandardError).Contains("its health check did not pass");
        await Assert.That(result.StandardError).Contains("GET /health.sh answered 500 Internal Server Error");

        var sick = await DeploymentAsync(user, "sick", d => d.GetProperty("health").GetString() == "unhealthy", "the deployment to be unhealthy");
        await Assert.That(sick.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(sick.GetProperty("healthFailure").GetString()).IsEqualTo("GET /health.sh answered 500 Internal Server Error");
        await Assert.That(sick.GetProperty("healthFailedAt").ValueKind).IsEqualTo(JsonValueKind.String);

        var human = await user.CtlOkAsync("status", "sick");
        await Assert.That(human).Contains("running (unhealthy)");
        await Assert.That(human).Contains("sick: unhealthy (provider check); last failure at");
    }

    [Test]
    public async Task A_health_path_answering_200_makes_the_deploy_ready_and_healthy()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;

        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "well", "--json", "--health-http", "/", "--health-interval", "1s", "--health-timeout", "1s")).RootElement;
        await Assert.That(deployed.GetProperty("state").GetString()).IsEqualTo("running");
        var well = await DeploymentAsync(user, "well", d => d.GetProperty("health").GetString() == "healthy", "the deployment to be healthy");
        await Assert.That(well.GetProperty("healthSource").GetString()).IsEqualTo("provider");
    }

    [Test]
    public async Task A_crash_loop_is_held_back_up_to_the_cap_status_shows_it_and_the_provider_stays_cheap()
    {
        await using var cluster = await TrustedCluster.StartAsync("--restart-backoff-max", "3");
        var (_, user, daemon) = cluster;

        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "loop", "--json", "--no-wait",
            "--", "sh", "-c", "echo crashing; exit 3")).RootElement;
        string container = await ContainerOfAsync(daemon, deployed.GetProperty("id").GetString()!);

        // The provider's CPU over several starts of the loop, watched through the engine only (a status request
        // would cost the provider CPU of its own): waits 0.5 s, 1 s, 2 s, 3 s between them.
        var (cpu0, wall0) = (CpuTime(daemon.Process.Id), DateTimeOffset.UtcNow);
        var starts = new HashSet<string>(StringComparer.Ordinal);
        await Eventually.WaitAsync(async () =>
        {
            starts.Add(await Infrastructure.Docker.InspectAsync(container, "{{.State.StartedAt}}"));
            return starts.Count >= 5;
        }, "five starts of the crash loop", Patience);
        var (cpu1, wall1) = (CpuTime(daemon.Process.Id), DateTimeOffset.UtcNow);
        double share = (cpu1 - cpu0).TotalSeconds / (wall1 - wall0).TotalSeconds;
        // Generous: a few engine calls per start cost milliseconds; a provider polling or spinning would cost a core.
        await Assert.That(share).IsLessThan(0.2).Because($"{(cpu1 - cpu0).TotalMilliseconds:0} ms CPU in {(wall1 - wall0).TotalSeconds:0.0} s");

        var held = await DeploymentAsync(user, "loop", d => d.GetProperty("state").GetString() == "restarting" && d.TryGetProperty("nextRestartAt", out var n) && n.ValueKind == JsonValueKind.String
            && (n.GetDateTimeOffset() - d.GetProperty("lastExitAt").GetDateTimeOffset()) == TimeSpan.FromSeconds(3), "a hold at the 3 s cap");
        await Assert.That(held.GetProperty("restarts").GetInt32()).IsGreaterThanOrEqualTo(3);
        await Assert.That(held.GetProperty("lastExitCode").GetInt32()).IsEqualTo(3);
        await Assert.That(held.GetProperty("restart").GetString()).IsEqualTo("unless-stopped");
        await Assert.That(held.GetProperty("lastLogLines").EnumerateArray().Select(l => l.GetString())).Contains("crashing");

        var human = await user.CtlOkAsync("status", "loop");
        await Assert.That(human).Contains("loop: ");
        await Assert.That(human).Contains("(restart unless-stopped); last exit 3 at");
    }

    [Test]
    public async Task The_restart_policy_is_the_deployment_s_own()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, daemon) = cluster;

        var once = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "once", "--json", "--no-wait", "--restart", "no", "--", "sh", "-c", "exit 4")).RootElement;
        var done = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "done", "--json", "--no-wait", "--restart", "on-failure", "--", "sh", "-c", "exit 0")).RootElement;

        foreach (var (deployed, policy, code) in new[] { (once, "no", 4), (done, "on-failure", 0) })
        {
            string name = deployed.GetProperty("name").GetString()!;
            var exited = await DeploymentAsync(user, name, d => d.GetProperty("state").GetString() == "exited", $"{name} to have exited");
            await Assert.That(exited.GetProperty("restart").GetString()).IsEqualTo(policy);
            await Assert.That(exited.GetProperty("exitCode").GetInt32()).IsEqualTo(code);
            await Assert.That(exited.GetProperty("restarts").GetInt32()).IsEqualTo(0);
            string container = await ContainerOfAsync(daemon, deployed.GetProperty("id").GetString()!);
            // The engine's own policy is the deployment's, so it leaves the container alone while the provider is down too.
            await Assert.That(await Infrastructure.Docker.InspectAsync(container, "{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{.State.Status}}")).IsEqualTo($"{policy} 0 exited");
        }

        var refused = await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "bad", "--restart", "always");
        await Assert.That(refused.ExitCode).IsNotEqualTo(0);
        await Assert.That(refused.StandardError).Contains("--restart 'always': expected no, on-failure or unless-stopped.");
    }

    private static async Task<JsonElement> DeploymentAsync(PeerNode user, string name, Func<JsonElement, bool> condition, string what)
    {
        JsonElement? found = null;
        await Eventually.WaitAsync(async () =>
        {
            var status = JsonDocument.Parse(await user.CtlOkAsync("status", name, "--json")).RootElement;
            var deployment = status.GetProperty("deployments")[0];
            if (!condition(deployment))
                return false;
            found = deployment.Clone();
            return true;
        }, what, Patience);
        return found!.Value;
    }

    private static async Task<string> ContainerOfAsync(ProviderProcess daemon, string deploymentId)
    {
        var listed = await TestProcess.RunAsync("docker", ["ps", "-aq", "--no-trunc", "--filter", $"label=io.peercompute.deployment={deploymentId}"]);
        await Assert.That(listed.ExitCode).IsEqualTo(0).Because(listed.ToString());
        return listed.StandardOutput.Trim();
    }

    /// <summary>User plus system CPU time of a process, all its threads (fields 14 and 15 of /proc/PID/stat, in USER_HZ ticks of 10 ms).</summary>
    private static TimeSpan CpuTime(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}

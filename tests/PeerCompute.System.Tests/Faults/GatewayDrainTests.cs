using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>A gateway stopped with SIGTERM lets requests in flight finish for as long as --drain-seconds says.</summary>
[NotInParallel("system")]
public class GatewayDrainTests
{
    [Test]
    public async Task A_stop_gives_a_slow_request_the_whole_drain_time_not_the_frameworks_five_seconds()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(launch => launch with { ExtraArgs = [.. launch.ExtraArgs, "--drain-seconds", "30"] });
        var (_, user, _) = cluster;
        // A CGI script that answers after 9 s, longer than the framework's default 5 s of grace. The deployment's /tmp is
        // noexec, so httpd runs it through its interpreter setting rather than executing the file.
        const string script = """
            mkdir -p /tmp/www
            printf 'echo slow-request-started >&2\nsleep 9\nprintf "Content-Type: text/plain\\r\\n\\r\\nslow answer\\n"\n' > /tmp/www/slow.sh
            echo '*.sh:/bin/sh' > /tmp/httpd.conf
            exec httpd -f -vv -p 8080 -h /tmp/www -c /tmp/httpd.conf
            """;
        var deployed = JsonDocument.Parse(await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "slow", "--port", "8080", "--json",
            "--", "sh", "-c", script)).RootElement;
        string url = deployed.GetProperty("publicUrl").GetString()!.TrimEnd('/') + "/slow.sh";

        await using var curl = TestProcess.Start("curl", ["-sS", "-m", "60", "--cacert", cluster.Gateway.CertificateFile, "-w", "\n%{http_code}", url]);
        await Eventually.WaitAsync(async () => curl.HasExited
                ? throw new InvalidOperationException($"curl ended before the stop: {curl.Output}")
                : (await user.CtlAsync("logs", "slow")).StandardError.Contains("slow-request-started", StringComparison.Ordinal),
            "the container to receive the slow request");

        await cluster.Gateway.StopAsync(TimeSpan.FromSeconds(60));
        int curlExit = await curl.WaitForExitAsync(TimeSpan.FromSeconds(60));
        await Assert.That(curlExit).IsEqualTo(0).Because(curl.Output);
        await Assert.That(curl.Output).Contains("slow answer");
        await Assert.That(curl.Output.TrimEnd()).EndsWith("200");
        await Assert.That(cluster.Gateway.Process.ExitCode).IsEqualTo(0).Because(cluster.Gateway.Process.Output);
    }
}

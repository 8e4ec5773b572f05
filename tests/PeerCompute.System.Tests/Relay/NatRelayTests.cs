using System.Diagnostics;
using System.Net;
using System.Text.Json;
using PeerCompute.System.Tests.Deploy;

namespace PeerCompute.System.Tests.Relay;

/// <summary>
/// Issue 14: a user behind one NAT works with a provider behind another through the gateway's circuit relay, with the
/// published binaries, a real dockerd and a <see cref="NatLab"/> (see <see cref="NatRelayRig"/>): the direct address
/// really is unreachable, every peerctl command goes through the relay (<c>via</c>), a log stream longer than yamux's
/// window arrives whole, the public URL answers through the tunnel, the relay's time limit cuts a circuit with an error
/// that names it, and a restarted gateway gets the provider's reservation back. Behind NATs that keep ports, the commands
/// go over a direct connection that hole punching (DCUtR) made; elsewhere the provider's NAT changes ports, so they stay
/// on the relay.
/// </summary>
[NotInParallel("system")]
public class NatRelayTests
{
    private const int TestTimeoutMs = 240_000;

    /// <summary>A web server that first prints <see cref="LogLines"/> numbered lines of <see cref="LogLineLength"/> bytes, then a last line, then idles.</summary>
    private const int LogLines = 2000;

    private const int LogLineLength = 105; // "line NNNN " + 94 characters + newline

    private const string LastLine = "all lines printed";

    private static readonly string Padding = new('x', 94);

    private static string[] DeployWeb(params string[] extra) =>
        ["deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--memory", "64MB", .. extra, "--",
            "sh", "-c", $"httpd -p 8080 -h /www; i=1000; while [ $i -lt {1000 + LogLines} ]; do echo \"line $i {Padding}\"; i=$((i+1)); done; echo '{LastLine}'; exec sleep 3600"];

    [Test, Timeout(TestTimeoutMs)]
    public async Task From_home_the_providers_direct_address_does_not_answer(CancellationToken cancellationToken)
    {
        await using var rig = await NatRelayRig.StartAsync();
        var direct = new IPEndPoint(rig.Lab.HostLinkAddress, rig.Daemon.Port);

        // Control: the provider does listen there (a connect from its own namespace succeeds at once).
        using (var local = new global::System.Net.Sockets.TcpClient())
            await local.ConnectAsync(direct, cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);

        var watch = Stopwatch.StartNew();
        var error = await rig.TryConnectFromHomeAsync(direct, TimeSpan.FromSeconds(2));
        Console.WriteLine($"{rig.Lab}: connect from home to {direct}: {error?.Message ?? "connected"} after {watch.ElapsedMilliseconds} ms");
        await Assert.That(error).IsNotNull().Because($"home reached the provider at {direct} directly");
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Deploy_status_logs_and_stop_go_through_the_relay(CancellationToken cancellationToken)
    {
        await using var rig = await NatRelayRig.StartAsync();
        var watch = Stopwatch.StartNew();

        var deployed = JsonDocument.Parse(await rig.CtlFromHomeOkAsync(DeployWeb("--json"))).RootElement;
        await Assert.That(deployed.GetProperty("via").GetString()).IsEqualTo("relay");
        await Assert.That(deployed.GetProperty("provider").GetString()).IsEqualTo(rig.Provider.PeerId);
        Console.WriteLine($"deploy via relay: {watch.ElapsedMilliseconds} ms");

        watch.Restart();
        var status = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("status", "--json")).RootElement;
        await Assert.That(status.GetProperty("via").GetString()).IsEqualTo("relay");
        await Assert.That(status.GetProperty("deployments").EnumerateArray().Single().GetProperty("state").GetString()).IsEqualTo("running");
        Console.WriteLine($"status via relay: {watch.ElapsedMilliseconds} ms");

        // More than yamux's initial window (256 KiB) and the 128 KiB the brief names: flow control over the circuit has to work.
        watch.Restart();
        await using (var follow = rig.StartCtlFromHome("logs", "web", "--follow"))
        {
            await follow.WaitForOutputAsync(l => l == LastLine, TimeSpan.FromSeconds(60));
            string[] lines = follow.Output.Split('\n');
            var numbered = lines.Where(l => l.StartsWith("line ", StringComparison.Ordinal)).ToList();
            await Assert.That(numbered.Count).IsEqualTo(LogLines);
            var numbers = numbered.Select(l => int.Parse(l[5..9], global::System.Globalization.CultureInfo.InvariantCulture));
            await Assert.That(numbers.SequenceEqual(Enumerable.Range(1000, LogLines))).IsTrue().Because("every line, in order");
            await Assert.That(numbered.All(l => l.Length + 1 == LogLineLength)).IsTrue();
            await Assert.That(follow.Output).Contains("through the relay");
            Console.WriteLine($"logs --follow via relay: {numbered.Count * LogLineLength} bytes of numbered lines in {watch.ElapsedMilliseconds} ms");

            // Ctrl-C is the normal way out of --follow.
            follow.Signal(Posix.SIGINT);
            await Assert.That(await follow.WaitForExitAsync(TimeSpan.FromSeconds(15))).IsEqualTo(0).Because(follow.Output);
        }

        var stopped = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("stop", "web", "--json")).RootElement;
        await Assert.That(stopped.GetProperty("via").GetString()).IsEqualTo("relay");
        // The hole punch this NAT defeats is remembered, so the next commands do not wait for it.
        await Assert.That(HolePunchMemory(rig)).IsFalse();
        var after = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("status", "--json")).RootElement;
        await Assert.That(after.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task A_deploy_that_pulls_its_image_streams_its_progress_through_the_relay(CancellationToken cancellationToken)
    {
        // A registry on the provider's own loopback, with an image the engine has never seen: the deploy pulls it, and
        // the provider sends progress frames on the request's stream (through the circuit) before the answer.
        await using var registry = await LocalRegistry.StartAsync(DeployWorkflowTests.TestImage, "peercompute-test/relay-", withPrivateEndpoint: false);
        string image = $"127.0.0.1:{registry.OpenPort}/{(await registry.PushFreshImageAsync()).Repository}:v1";
        await using var rig = await NatRelayRig.StartAsync(new NatLabOptions { HardNatHost = true }, providerArgs: ["--allow-registry", $"127.0.0.1:{registry.OpenPort}"]);

        var deployed = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("deploy", image, "--name", "pulled", "--port", "8080", "--memory", "64MB", "--json")).RootElement;

        await Assert.That(deployed.GetProperty("via").GetString()).IsEqualTo("relay");
        await Assert.That(deployed.GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(rig.Daemon.Process.Output).Contains(image);
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task Between_two_nats_that_keep_ports_peerctl_hole_punches_and_says_so(CancellationToken cancellationToken)
    {
        await using var rig = await NatRelayRig.StartAsync(new NatLabOptions());

        var deployed = JsonDocument.Parse(await rig.CtlFromHomeOkAsync(DeployWeb("--json"))).RootElement;
        var status = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("status", "--json")).RootElement;
        var stopped = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("stop", "web", "--json")).RootElement;

        await Assert.That(deployed.GetProperty("via").GetString()).IsEqualTo("hole-punched").Because(rig.Logs);
        await Assert.That(status.GetProperty("via").GetString()).IsEqualTo("hole-punched");
        await Assert.That(status.GetProperty("deployments").EnumerateArray().Single().GetProperty("state").GetString()).IsEqualTo("running");
        await Assert.That(stopped.GetProperty("via").GetString()).IsEqualTo("hole-punched");
        await Assert.That(rig.Daemon.Process.Output).Contains("dcutr: direct connection to");
        await Assert.That(HolePunchMemory(rig)).IsTrue();
    }

    /// <summary>What the user's peerctl remembers of its last hole punch with the provider (paths.json); throws when nothing.</summary>
    private static bool HolePunchMemory(NatRelayRig rig)
    {
        string file = Path.Combine(rig.User.Home, "paths.json");
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        return json.RootElement.GetProperty(rig.Provider.PeerId).GetProperty("holePunched").GetBoolean();
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task The_public_url_answers_at_home_through_the_gateways_tunnel(CancellationToken cancellationToken)
    {
        await using var rig = await NatRelayRig.StartAsync();
        var deployed = JsonDocument.Parse(await rig.CtlFromHomeOkAsync(DeployWeb("--json"))).RootElement;
        await Assert.That(deployed.GetProperty("via").GetString()).IsEqualTo("relay");
        string publicUrl = deployed.GetProperty("publicUrl").GetString()!;
        await Assert.That(publicUrl).StartsWith("https://web-");
        await Assert.That(publicUrl).EndsWith($".peercompute.localhost:{rig.Gateway.HttpsPort}/");

        var watch = Stopwatch.StartNew();
        var page = await rig.CurlFromHomeAsync(publicUrl);
        Console.WriteLine($"public URL from home: {watch.ElapsedMilliseconds} ms");
        await Assert.That(page.ExitCode).IsEqualTo(0).Because(page.ToString());
        await Assert.That(page.StandardOutput).Contains("peercompute test page");
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task The_relays_time_limit_cuts_logs_follow_and_peerctl_says_so(CancellationToken cancellationToken)
    {
        // Long enough for peerctl's wait for a hole punch (which behind this NAT fails: up to 4 s) before its stream opens.
        const int Limit = 10;
        await using var rig = await NatRelayRig.StartAsync("--relay-circuit-seconds", $"{Limit}");
        // Deployed from the provider's own machine (the direct address answers there), so that no short circuit has to
        // hold a whole deploy on a loaded machine: only the stream under test goes through the relay.
        var deployed = JsonDocument.Parse(await rig.User.CtlOkAsync(DeployWeb("--json"))).RootElement;
        await Assert.That(deployed.GetProperty("via").GetString()).IsEqualTo("direct");

        await using var follow = rig.StartCtlFromHome("logs", "web", "--follow");
        await follow.WaitForOutputAsync(l => l.Contains("through the relay", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var connected = Stopwatch.StartNew();
        await follow.WaitForOutputAsync(l => l.StartsWith("line 1000 ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        int exit = await follow.WaitForExitAsync(TimeSpan.FromSeconds(Limit + 15));
        var cutAfter = connected.Elapsed;
        Console.WriteLine($"logs --follow cut after {cutAfter.TotalSeconds:0.0} s (limit {Limit} s), exit {exit}: {follow.Output.Split('\n').LastOrDefault(l => l.Length > 0)}");

        await Assert.That(exit).IsNotEqualTo(0).Because(follow.Output);
        await Assert.That(follow.Output).Contains($"it reached the relay's time limit of {Limit} s");
        await Assert.That(follow.Output).Contains($"The relay {rig.RelayAddress}");
        await Assert.That(cutAfter).IsLessThan(TimeSpan.FromSeconds(Limit + 5));
    }

    [Test, Timeout(TestTimeoutMs)]
    public async Task After_a_gateway_restart_the_provider_reserves_again_and_peerctl_gets_through(CancellationToken cancellationToken)
    {
        await using var rig = await NatRelayRig.StartAsync();
        var before = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("status", "--json")).RootElement;
        await Assert.That(before.GetProperty("via").GetString()).IsEqualTo("relay");

        var watch = Stopwatch.StartNew();
        await rig.Gateway.RestartAsync();
        // The reservation (not the tunnel, which comes back on its own schedule) is what the relayed dial needs.
        await rig.WaitForReservationAsync();
        Console.WriteLine($"gateway restarted, the provider's reservation back after {watch.ElapsedMilliseconds} ms");

        var after = JsonDocument.Parse(await rig.CtlFromHomeOkAsync("status", "--json")).RootElement;
        await Assert.That(after.GetProperty("via").GetString()).IsEqualTo("relay");
        await Assert.That(after.GetProperty("provider").GetString()).IsEqualTo(rig.Provider.PeerId);
    }
}

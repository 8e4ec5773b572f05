using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>peercomputed's settings: config file in the home folder, options winning over it, bad values refused.</summary>
[NotInParallel("system")]
public class ProviderConfigTests
{
    [Test]
    public async Task The_config_file_sets_options_and_the_command_line_wins()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        File.WriteAllText(Path.Combine(provider.Home, "peercomputed.json"), """
            { "max-memory": "2GB", "max-deploys": 4, "max-cpu": "1500", "log-format": "json" }
            """);
        await using var daemon = await ProviderProcess.StartAsync(provider, "--max-deploys", "2");
        string output = daemon.Process.Output;
        await Assert.That(output).Contains("max-cpu 1500m");
        await Assert.That(output).Contains("max-memory 2GiB");
        await Assert.That(output).Contains("max-deploys 2");
        await Assert.That(output).Contains("\"Message\":").Because("--log-format json from the file gives JSON lines");
        await Assert.That(await daemon.StopAsync()).IsEqualTo(0);
    }

    [Test]
    public async Task Repeated_allow_registry_and_relay_options_all_count()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        // Loopback ports where nothing listens: the reservations fail and are retried; only the options are under test.
        string relayA = $"/ip4/127.0.0.1/tcp/{FreePorts.One()}/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
        string relayB = $"/ip4/127.0.0.1/tcp/{FreePorts.One()}/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
        await using var daemon = await ProviderProcess.StartAsync(provider, "--allow-registry", "reg1.lan:5000", "--allow-registry", "reg2.lan:5000",
            "--relay", relayA, "--relay", relayB);
        string output = daemon.Process.Output;
        // Before --allow-registry was collapsed like the other repeatable options, only its last value was kept.
        await Assert.That(output).Contains("(--allow-registry): reg1.lan:5000, reg2.lan:5000");
        await Assert.That(output).Contains($"relay: reserving on {relayA}/p2p-circuit (--relay)");
        await Assert.That(output).Contains($"relay: reserving on {relayB}/p2p-circuit (--relay)");
        await Assert.That(await daemon.StopAsync()).IsEqualTo(0);
    }

    [Test]
    public async Task Sigterm_while_waiting_for_the_docker_engine_is_an_orderly_stop()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        var env = new Dictionary<string, string?>(provider.Environment) { ["DOCKER_HOST"] = "unix:///nonexistent/peercompute-test-docker.sock" };
        await using var daemon = TestProcess.Start(PeerNode.Peercomputed, ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"], env);
        await daemon.WaitForLineAsync(l => l.Contains("waiting for the Docker engine", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        daemon.Signal(Posix.SIGTERM);

        await Assert.That(await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30))).IsEqualTo(0);
        await Assert.That(daemon.Output).Contains("stopped before the Docker engine answered");
    }

    [Test]
    [Arguments("""{ "max-memory": "lots" }""", "Invalid max-memory")]
    [Arguments("""{ "max-deploys": 0 }""", "Invalid max-deploys")]
    [Arguments("""{ "no-such-option": 1 }""", "is not valid")]
    [Arguments("""{ not json""", "is not valid")]
    public async Task A_bad_config_file_is_a_usage_error_naming_the_file(string content, string message)
    {
        using var provider = await PeerNode.CreateAsync("provider");
        string file = Path.Combine(provider.Home, "peercomputed.json");
        File.WriteAllText(file, content);
        var result = await TestProcess.RunAsync(PeerNode.Peercomputed, ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"], provider.Environment, TimeSpan.FromSeconds(60));
        await Assert.That(result.ExitCode).IsEqualTo(2);
        await Assert.That(result.StandardError).Contains(message);
        await Assert.That(result.StandardError).Contains(file);
    }

    [Test]
    [Arguments("--status-log-bytes", "lots")]
    [Arguments("--status-log-bytes", "2MiB")]
    [Arguments("--status-log-bytes-total", "0")]
    [Arguments("--max-writable-size", "lots")]
    [Arguments("--max-writable-size", "1MiB")]
    [Arguments("--max-image-size", "0")]
    public async Task A_size_option_out_of_its_range_is_a_usage_error(string option, string value)
    {
        using var provider = await PeerNode.CreateAsync("provider");
        var result = await TestProcess.RunAsync(PeerNode.Peercomputed, ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", option, value], provider.Environment, TimeSpan.FromSeconds(60));
        await Assert.That(result.ExitCode).IsEqualTo(2);
        await Assert.That(result.StandardError).Contains($"Invalid {option[2..]} '{value}'");
    }

    [Test]
    [Arguments(new[] { "--max-connections", "0" }, "Invalid max-connections '0'")]
    [Arguments(new[] { "--untrusted-idle-timeout", "0" }, "Invalid untrusted-idle-timeout '0'")]
    [Arguments(new[] { "--max-handshakes-per-address", "0" }, "Invalid max-handshakes-per-address '0'")]
    [Arguments(new[] { "--max-connections", "64", "--max-untrusted-connections", "48", "--max-handshakes", "16" }, "kept for trusted peers")]
    [Arguments(new[] { "--allow-registry", "http://registry.lan" }, "Invalid allow-registry 'http://registry.lan'")]
    [Arguments(new[] { "--allow-registry", "registry.lan/team" }, "Invalid allow-registry 'registry.lan/team'")]
    [Arguments(new[] { "--allow-registry", "127.0.0.1:0" }, "Invalid allow-registry '127.0.0.1:0'")]
    [Arguments(new[] { "--relay", "/ip4/203.0.113.7/tcp/4001" }, "Invalid relay '/ip4/203.0.113.7/tcp/4001'")]
    [Arguments(new[] { "--relay", "relay.example:4001" }, "Invalid relay 'relay.example:4001'")]
    [Arguments(new[] { "--relay", "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq/p2p-circuit/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5" }, "Invalid relay")]
    public async Task Connection_limits_that_do_not_fit_or_registries_to_allow_that_are_not_host_or_host_and_port_are_a_usage_error(string[] options, string message)
    {
        using var provider = await PeerNode.CreateAsync("provider");
        var result = await TestProcess.RunAsync(PeerNode.Peercomputed, ["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", .. options], provider.Environment, TimeSpan.FromSeconds(60));
        await Assert.That(result.ExitCode).IsEqualTo(2);
        await Assert.That(result.StandardError).Contains(message);
    }

    [Test]
    public async Task A_provider_without_an_identity_says_how_to_make_one()
    {
        string home = Path.Combine(Directory.CreateTempSubdirectory("pc-noid-").FullName, "home");
        var result = await TestProcess.RunAsync(PeerNode.Peercomputed, ["--no-mdns"], new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["PEERCOMPUTE_IDENTITY_KEY"] = null }, TimeSpan.FromSeconds(60));
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("peerctl init");
    }
}

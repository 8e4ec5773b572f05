using System.Text.Json;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>What the engine really applied to a deployed container, read back through docker inspect and from inside.</summary>
public sealed class IsolationTests
{
    private const string Owner = "12D3KooWOwnerIsolation";

    [Test]
    public async Task Deployed_container_is_confined_as_docker_inspect_shows()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var spec = RuntimeHarness.Busybox("confined") with { Environment = new Dictionary<string, string> { ["GREETING"] = "hello" } };
        var status = await harness.Runtime.DeployAsync(spec, Owner);

        var inspect = await TestEngine.InspectAsync(status.ContainerId!);
        var host = inspect.GetProperty("HostConfig");

        await Assert.That(host.GetProperty("Privileged").GetBoolean()).IsFalse();
        await Assert.That(Strings(host, "Binds")).IsEmpty();
        await Assert.That(Strings(host, "Devices")).IsEmpty();
        await Assert.That(inspect.GetProperty("Mounts").GetArrayLength()).IsEqualTo(0);
        await Assert.That(host.GetProperty("PidMode").GetString()).IsEqualTo("");
        await Assert.That(host.GetProperty("IpcMode").GetString()).IsEqualTo("private");
        await Assert.That(host.GetProperty("UTSMode").GetString()).IsEqualTo("");
        await Assert.That(host.GetProperty("NetworkMode").GetString()).IsEqualTo(TestEngine.NetworkName);

        await Assert.That(string.Join(",", Strings(host, "CapDrop"))).IsEqualTo("ALL");
        await Assert.That(Strings(host, "CapAdd")).IsEmpty();
        var securityOpt = Strings(host, "SecurityOpt");
        await Assert.That(securityOpt).Contains("no-new-privileges");
        await Assert.That(securityOpt.Any(o => o.Contains("unconfined", StringComparison.Ordinal))).IsFalse();

        await Assert.That(host.GetProperty("NanoCpus").GetInt64()).IsEqualTo(250_000_000L);
        await Assert.That(host.GetProperty("Memory").GetInt64()).IsEqualTo(64 * RuntimeOptions.MiB);
        await Assert.That(host.GetProperty("MemorySwap").GetInt64()).IsEqualTo(64 * RuntimeOptions.MiB);
        await Assert.That(host.GetProperty("PidsLimit").GetInt64()).IsEqualTo(256L);
        var ulimit = host.GetProperty("Ulimits").EnumerateArray().Single();
        await Assert.That(ulimit.GetProperty("Name").GetString()).IsEqualTo("nofile");
        await Assert.That(ulimit.GetProperty("Soft").GetInt64()).IsEqualTo(1024L);
        await Assert.That(ulimit.GetProperty("Hard").GetInt64()).IsEqualTo(4096L);

        await Assert.That(host.GetProperty("ReadonlyRootfs").GetBoolean()).IsTrue();
        await Assert.That(host.GetProperty("Tmpfs").GetProperty("/tmp").GetString()).Contains("size=67108864");
        await Assert.That(host.GetProperty("Init").GetBoolean()).IsTrue();

        var log = host.GetProperty("LogConfig");
        await Assert.That(log.GetProperty("Type").GetString()).IsEqualTo("json-file");
        await Assert.That(log.GetProperty("Config").GetProperty("max-size").GetString()).IsEqualTo("10m");
        await Assert.That(log.GetProperty("Config").GetProperty("max-file").GetString()).IsEqualTo("3");

        var binding = inspect.GetProperty("NetworkSettings").GetProperty("Ports").GetProperty("8080/tcp").EnumerateArray().Single();
        await Assert.That(binding.GetProperty("HostIp").GetString()).IsEqualTo("127.0.0.1");
        await Assert.That(int.Parse(binding.GetProperty("HostPort").GetString()!)).IsEqualTo(status.HostPort!.Value);

        var labels = inspect.GetProperty("Config").GetProperty("Labels");
        await Assert.That(labels.GetProperty("io.peercompute.deployment").GetString()).IsEqualTo(status.Id);
        await Assert.That(labels.GetProperty("io.peercompute.owner").GetString()).IsEqualTo(Owner);
        await Assert.That(labels.GetProperty("io.peercompute.spec-hash").GetString()).IsEqualTo(status.SpecHash);
        await Assert.That(DateTimeOffset.Parse(labels.GetProperty("io.peercompute.created-at").GetString()!)).IsEqualTo(status.CreatedAt);
        await Assert.That(Strings(inspect.GetProperty("Config"), "Env")).Contains("GREETING=hello");

        await Assert.That(await Http.GetWhenReadyAsync(status.HostPort!.Value)).Contains("peercompute test page");
    }

    [Test]
    public async Task Project_network_is_a_bridge_of_its_own_with_inter_container_traffic_off()
    {
        await using var harness = await RuntimeHarness.StartAsync();
        var result = (await Cli.DockerAsync("network", "inspect", TestEngine.NetworkName)).EnsureSuccess("docker network inspect");
        using var document = JsonDocument.Parse(result.Stdout);
        var network = document.RootElement[0];
        await Assert.That(network.GetProperty("Driver").GetString()).IsEqualTo("bridge");
        var options = network.GetProperty("Options");
        await Assert.That(options.GetProperty("com.docker.network.bridge.enable_icc").GetString()).IsEqualTo("false");
        await Assert.That(options.GetProperty("com.docker.network.bridge.name").GetString()).IsEqualTo(TestEngine.NetworkName);
    }

    private static string[] Strings(JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(e => e.ToString()).ToArray()
            : [];
}

using System.Text.Json;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Apps;

/// <summary>
/// <c>peerctl up</c>, <c>status APP</c>, <c>logs APP SERVICE</c> and <c>down</c> with the published binaries on a real
/// dockerd: a web service and a key-value store from the test image, the web reading the store by its service name.
/// </summary>
[NotInParallel("system")]
public class ComposeAppTests
{
    // The test image's static wget crashes, so nslookup (the engine's DNS answers the service name) and nc.
    private const string Compose = """
        name: shop
        x-notes: anything
        services:
          web:
            image: peercompute-test/busybox:latest
            command:
              - /bin/sh
              - -c
              - >-
                mkdir -p /tmp/www &&
                until a=$(nslookup store 2>/dev/null | awk '/^Address: / {x=$2} END {print x}') && [ -n "$a" ] &&
                printf 'GET /key HTTP/1.0\r\n\r\n' | nc -w 3 $a 6379 | tail -n 1 > /tmp/www/value && [ -s /tmp/www/value ];
                do sleep 0.2; done; echo web-read-the-store; exec httpd -f -p 8080 -h /tmp/www
            ports: ["8080"]
            depends_on:
              store:
                condition: service_healthy
            deploy:
              resources:
                limits: {cpus: "0.25", memory: 64M}
          store:
            image: peercompute-test/busybox:latest
            command: /bin/sh -c "mkdir -p /tmp/kv && echo stored-value > /tmp/kv/key && exec httpd -f -p 6379 -h /tmp/kv"
            expose: ["6379"]
            deploy:
              resources:
                limits: {cpus: "0.25", memory: 64M}
        """;

    [Test]
    public async Task Up_starts_the_store_first_web_reads_it_by_name_and_down_removes_the_app_and_its_network()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;
        string file = Path.Combine(user.Home, "compose.yaml");
        await File.WriteAllTextAsync(file, Compose);

        var up = JsonDocument.Parse(await user.CtlOkAsync("up", "-f", file, "--json")).RootElement;
        await Assert.That(up.GetProperty("app").GetString()).IsEqualTo("shop");
        var services = up.GetProperty("services").EnumerateArray().ToList();
        await Assert.That(string.Join(",", services.Select(s => s.GetProperty("name").GetString()))).IsEqualTo("shop-store,shop-web");
        var store = services[0];
        var web = services[1];
        await Assert.That(store.GetProperty("localUrl").GetString()).IsEqualTo("");
        await Assert.That(await DeployWorkflowTests.CurlAsync(web.GetProperty("localUrl").GetString()! + "/value")).Contains("stored-value");

        var status = JsonDocument.Parse(await user.CtlOkAsync("status", "shop", "--json")).RootElement.GetProperty("deployments").EnumerateArray().ToList();
        await Assert.That(status.Select(d => d.GetProperty("service").GetString())).Contains("web");
        await Assert.That(status.All(d => d.GetProperty("app").GetString() == "shop" && d.GetProperty("state").GetString() == "running")).IsTrue();

        await Assert.That(await user.CtlOkAsync("logs", "shop", "web")).Contains("web-read-the-store");

        // The app's network, found by the containers' own.
        var inspect = await TestProcess.RunAsync("docker", ["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", "pc-" + web.GetProperty("id").GetString()]);
        string network = inspect.StandardOutput.Trim();
        await Assert.That(network).StartsWith("pca");

        var again = await user.CtlAsync("up", "-f", file);
        await Assert.That(again.ExitCode).IsEqualTo(1).Because(again.ToString());
        await Assert.That(again.StandardError).Contains("shop-store");

        var down = JsonDocument.Parse(await user.CtlOkAsync("down", "shop", "--json")).RootElement;
        await Assert.That(string.Join(",", down.GetProperty("removed").EnumerateArray().Select(r => r.GetProperty("name").GetString()))).IsEqualTo("shop-web,shop-store");
        await Assert.That(JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        await Assert.That((await TestProcess.RunAsync("docker", ["network", "inspect", network])).ExitCode).IsNotEqualTo(0);

        var gone = await user.CtlAsync("down", "shop");
        await Assert.That(gone.ExitCode).IsEqualTo(1);
        await Assert.That(gone.StandardError).Contains("No app 'shop' of yours on maya");
    }

    [Test]
    public async Task A_key_outside_the_subset_is_refused_with_its_line_before_anything_is_sent()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;
        string file = Path.Combine(user.Home, "compose.yaml");
        await File.WriteAllTextAsync(file, "services:\n  web:\n    image: peercompute-test/busybox:latest\n    privileged: true\n");

        var result = await user.CtlAsync("up", "-f", file, "--json");

        await Assert.That(result.ExitCode).IsEqualTo(2).Because(result.ToString());
        await Assert.That(result.StandardError).Contains($"{file}:4: services.web.privileged is not supported");
        var error = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("invalid_compose");
        await Assert.That(JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
    }
}

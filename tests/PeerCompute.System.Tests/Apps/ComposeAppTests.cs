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

        // Up again with a changed file: each service is updated in place (same deployments), the store first, so the
        // new web reads the new store's value.
        await File.WriteAllTextAsync(file, Compose.Replace("stored-value", "second-value", StringComparison.Ordinal));
        var again = JsonDocument.Parse(await user.CtlOkAsync("up", "-f", file, "--json")).RootElement.GetProperty("services").EnumerateArray().ToList();
        await Assert.That(again.Select(s => s.GetProperty("id").GetString())).IsEquivalentTo(services.Select(s => s.GetProperty("id").GetString()));
        await Assert.That(again.All(s => s.GetProperty("updated").GetBoolean() && s.GetProperty("revision").GetInt32() == 2)).IsTrue();
        await Assert.That(await DeployWorkflowTests.CurlAsync(again[1].GetProperty("localUrl").GetString()! + "/value")).Contains("second-value");
        var history = JsonDocument.Parse(await user.CtlOkAsync("history", "shop-store", "--json")).RootElement.GetProperty("revisions").GetArrayLength();
        await Assert.That(history).IsEqualTo(2);

        // Another owner's app of the same name: its deployments' names are taken on this provider.
        var other = await cluster.AddUserAsync("other", "lee");
        string otherFile = Path.Combine(other.Home, "compose.yaml");
        await File.WriteAllTextAsync(otherFile, Compose);
        var taken = await other.CtlAsync("up", "-f", otherFile, "--json");
        await Assert.That(taken.ExitCode).IsEqualTo(1).Because(taken.ToString());
        await Assert.That(JsonDocument.Parse(taken.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("name_taken");
        await Assert.That(JsonDocument.Parse(await other.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);

        var down = JsonDocument.Parse(await user.CtlOkAsync("down", "shop", "--json")).RootElement;
        await Assert.That(string.Join(",", down.GetProperty("removed").EnumerateArray().Select(r => r.GetProperty("name").GetString()))).IsEqualTo("shop-web,shop-store");
        await Assert.That(JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        await Assert.That((await TestProcess.RunAsync("docker", ["network", "inspect", network])).ExitCode).IsNotEqualTo(0);

        var gone = await user.CtlAsync("down", "shop");
        await Assert.That(gone.ExitCode).IsEqualTo(1);
        await Assert.That(gone.StandardError).Contains("No app 'shop' of yours on maya");
    }

    // The store serves its key a second after it starts (404 before), so only its health check says when it is ready;
    // web reads the key once, at its start. The key is made once and kept in the app's volume.
    private const string Notes = """
        name: notes
        services:
          web:
            image: peercompute-test/busybox:latest
            command:
              - /bin/sh
              - -c
              - >-
                mkdir -p /tmp/www &&
                until a=$(nslookup store 2>/dev/null | awk '/^Address: / {x=$2} END {print x}') && [ -n "$a" ]; do sleep 0.2; done;
                printf 'GET /key HTTP/1.0\r\n\r\n' | nc -w 3 $a 6379 | tail -n 1 > /tmp/www/value;
                exec httpd -f -p 8080 -h /tmp/www
            ports: ["8080"]
            depends_on:
              store:
                condition: service_healthy
          store:
            image: peercompute-test/busybox:latest
            command: /bin/sh -c "mkdir -p /tmp/www; [ -s /data/key ] || cat /proc/sys/kernel/random/uuid > /data/key; (sleep 1; cp /data/key /tmp/www/key) & exec httpd -f -p 6379 -h /tmp/www"
            expose: ["6379"]
            volumes: ["data:/data"]
            healthcheck:
              test: ["CMD", "wget", "-q", "--spider", "http://localhost:6379/key"]
              interval: 1s
              timeout: 1s
        volumes:
          data:
            x-peercompute: {size: 16MB}
        """;

    [Test]
    public async Task Web_starts_after_its_store_is_healthy_and_the_stores_volume_keeps_its_data_across_down_and_up()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (_, user, _) = cluster;
        string file = Path.Combine(user.Home, "compose.yaml");
        await File.WriteAllTextAsync(file, Notes);

        var first = JsonDocument.Parse(await user.CtlOkAsync("up", "-f", file, "--json")).RootElement.GetProperty("services")[1];
        string key = await DeployWorkflowTests.CurlAsync(first.GetProperty("localUrl").GetString()! + "/value");
        await Assert.That(key.Trim()).Matches("^[0-9a-f-]{36}$");
        var store = JsonDocument.Parse(await user.CtlOkAsync("status", "notes-store", "--json")).RootElement.GetProperty("deployments")[0];
        // The check the healthcheck became runs on after the start (its first result may still be pending).
        await Assert.That(store.GetProperty("health").GetString()).IsIn("starting", "healthy");

        await user.CtlOkAsync("down", "notes");
        var volume = JsonDocument.Parse(await user.CtlOkAsync("volume", "ls", "--json")).RootElement.GetProperty("volumes").EnumerateArray().Single();
        await Assert.That(volume.GetProperty("name").GetString()).IsEqualTo("notes-data");
        await Assert.That(volume.GetProperty("sizeBytes").GetInt64()).IsEqualTo(16L << 20);

        var second = JsonDocument.Parse(await user.CtlOkAsync("up", "-f", file, "--json")).RootElement.GetProperty("services")[1];
        await Assert.That(await DeployWorkflowTests.CurlAsync(second.GetProperty("localUrl").GetString()! + "/value")).IsEqualTo(key);

        await user.CtlOkAsync("down", "notes");
        await user.CtlOkAsync("volume", "rm", "notes-data");
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

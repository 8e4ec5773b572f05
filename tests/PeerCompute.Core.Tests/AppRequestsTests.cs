using PeerCompute.Core.Compose;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Tests;

public class AppRequestsTests
{
    private const string Shop = """
        name: shop
        services:
          web:
            image: web:1
            command: ["httpd", "-f"]
            environment: {MODE: prod}
            ports: ["8080"]
            depends_on:
              store: {condition: service_healthy}
              worker: {condition: service_started}
            deploy: {resources: {limits: {cpus: "0.25", memory: 64M}}}
          store:
            image: kv:1
            expose: ["6379"]
          worker:
            image: worker:1
        """;

    [Test]
    public async Task Each_service_is_a_deployment_of_the_app_in_dependency_order()
    {
        var app = ComposeParser.Parse(Shop);
        var requests = AppRequests.For(app, AppRequests.NameFor(app, null, "/srv/x/compose.yaml"));

        await Assert.That(string.Join(",", requests.Select(r => r.Name))).IsEqualTo("shop-store,shop-worker,shop-web");
        await Assert.That(requests.All(r => r.App == "shop")).IsTrue();
        await Assert.That(string.Join(",", requests.Select(r => r.Service))).IsEqualTo("store,worker,web");

        var store = requests[0];
        await Assert.That(store.Private).IsTrue();
        await Assert.That(store.Port).IsEqualTo(6379);
        await Assert.That(store.NoWait).IsFalse();
        await Assert.That(store.CpuMillicores).IsEqualTo(DeployRequest.DefaultCpuMillicores);

        // No port: private, and nothing to wait for.
        var worker = requests[1];
        await Assert.That(worker.Private).IsTrue();
        await Assert.That(worker.Port).IsNull();
        await Assert.That(worker.NoWait).IsTrue();

        var web = requests[2];
        await Assert.That(web.Private).IsFalse();
        await Assert.That(web.Port).IsEqualTo(8080);
        await Assert.That(web.Image).IsEqualTo("web:1");
        await Assert.That(web.Command!).IsEquivalentTo(["httpd", "-f"]);
        await Assert.That(web.Env!["MODE"]).IsEqualTo("prod");
        await Assert.That(web.CpuMillicores).IsEqualTo(250);
        await Assert.That(web.MemoryBytes).IsEqualTo(64L << 20);
    }

    [Test]
    public async Task The_app_name_is_the_given_one_else_the_files_else_its_folders()
    {
        var named = ComposeParser.Parse(Shop);
        var unnamed = ComposeParser.Parse("services:\n  a:\n    image: x\n");

        await Assert.That(AppRequests.NameFor(named, "given", "compose.yaml")).IsEqualTo("given");
        await Assert.That(AppRequests.NameFor(named, null, "compose.yaml")).IsEqualTo("shop");
        await Assert.That(AppRequests.NameFor(unnamed, null, "/srv/My_Shop/compose.yaml")).IsEqualTo("my-shop");
        await Assert.That(Assert.Throws<ComposeException>(() => AppRequests.NameFor(unnamed, "Bad_Name", "compose.yaml")).Message).Contains("must be a DNS label");
    }

    [Test]
    public async Task A_deployment_name_over_63_characters_is_refused()
    {
        var app = ComposeParser.Parse($"services:\n  {new string('s', 40)}:\n    image: x\n");

        var ex = Assert.Throws<ComposeException>(() => AppRequests.For(app, new string('a', 30)));

        await Assert.That(ex.Message).Contains("longer than 63 characters");
    }

    [Test]
    [Arguments("    volumes: [\"data:/data\"]\nvolumes:\n  data:\n", "compose.yaml:4: services.a.volumes: named volumes are not yet supported")]
    [Arguments("    healthcheck:\n      test: [\"CMD\", \"true\"]\n", "compose.yaml:5: services.a.healthcheck: health checks are not yet supported")]
    public async Task What_providers_cannot_run_yet_is_refused_with_its_line(string body, string expected)
    {
        var app = ComposeParser.Parse("services:\n  a:\n    image: x\n" + body);

        var ex = Assert.Throws<ComposeException>(() => ComposeRuntimeGaps.Refuse(app));

        await Assert.That(ex.Message).StartsWith(expected);
    }

    [Test]
    public async Task A_disabled_healthcheck_and_an_unmounted_volume_need_nothing_from_the_provider()
    {
        var app = ComposeParser.Parse("services:\n  a:\n    image: x\n    healthcheck:\n      disable: true\nvolumes:\n  spare:\n");

        ComposeRuntimeGaps.Refuse(app);

        await Assert.That(app.Volumes.Single().Name).IsEqualTo("spare");
    }
}

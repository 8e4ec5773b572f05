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
    [Arguments("    volumes: [\"data:/data:ro\"]\nvolumes:\n  data:\n", "compose.yaml:5: services.a.volumes: data:/data is read-only; providers mount volumes read-write only")]
    [Arguments("    healthcheck:\n      test: [\"CMD\", \"true\"]\n", "compose.yaml:6: services.a.healthcheck.test: 'true' runs inside the container, which providers do not do")]
    [Arguments("    healthcheck:\n      test: curl -f http://localhost:9999/ || exit 1\n", "compose.yaml:6: services.a.healthcheck.test: 'curl -f http://localhost:9999/ || exit 1' runs inside the container")]
    [Arguments("    healthcheck:\n      test: curl -f http://localhost:8080/ | grep ok\n", "compose.yaml:6: services.a.healthcheck.test:")]
    [Arguments("    healthcheck:\n      test: [\"CMD\", \"nc\", \"-z\", \"db\", \"8080\"]\n", "compose.yaml:6: services.a.healthcheck.test:")]
    public async Task What_providers_cannot_run_is_refused_with_its_line_and_key(string body, string expected)
    {
        var app = ComposeParser.Parse("services:\n  a:\n    image: x\n    expose: [\"8080\"]\n" + body);

        var ex = Assert.Throws<ComposeException>(() => ComposeRuntimeGaps.Refuse(app));

        await Assert.That(ex.Message).StartsWith(expected);
    }

    [Test]
    public async Task A_healthcheck_on_a_service_without_a_port_is_refused_with_its_line()
    {
        var app = ComposeParser.Parse("services:\n  a:\n    image: x\n    healthcheck:\n      x-peercompute: {health-tcp: true}\n");

        var ex = Assert.Throws<ComposeException>(() => ComposeRuntimeGaps.Refuse(app));

        await Assert.That(ex.Message).StartsWith("compose.yaml:5: services.a.healthcheck: a health check needs the service's port (ports or expose)");
    }

    [Test]
    public async Task A_disabled_healthcheck_and_an_unmounted_volume_need_nothing_from_the_provider()
    {
        var app = ComposeParser.Parse("services:\n  a:\n    image: x\n    healthcheck:\n      disable: true\nvolumes:\n  spare:\n");

        ComposeRuntimeGaps.Refuse(app);
        var request = AppRequests.For(app, "shop").Single();

        await Assert.That(app.Volumes.Single().Name).IsEqualTo("spare");
        await Assert.That(request.HealthHttp).IsNull();
        await Assert.That(request.HealthTcp).IsFalse();
        await Assert.That(request.Volumes).IsNull();
    }

    private const string Notes = """
        name: notes
        services:
          web:
            image: web:2
            ports: ["8080"]
            restart: on-failure
            volumes:
              - cache:/var/cache
            depends_on:
              db: {condition: service_healthy}
          db:
            image: db:2
            expose: ["5432"]
            restart: always
            volumes:
              - data:/var/lib/db
              - type: volume
                source: cache
                target: /cache
            healthcheck:
              test: ["CMD", "pg_isready"]
              interval: 2s
              timeout: 500ms
              retries: 4
              start_period: 1m
              x-peercompute: {health-http: /ready?deep=1}
        volumes:
          data:
            x-peercompute: {size: 1GB}
          cache:
        """;

    [Test]
    public async Task Volumes_are_the_owners_app_volume_sized_from_the_extension_and_the_healthcheck_is_the_providers()
    {
        var app = ComposeParser.Parse(Notes);
        ComposeRuntimeGaps.Refuse(app);

        var requests = AppRequests.For(app, "notes");

        var db = requests[0];
        await Assert.That(db.Name).IsEqualTo("notes-db");
        await Assert.That(db.Volumes!).IsEquivalentTo(["notes-data:/var/lib/db:1073741824", "notes-cache:/cache"]);
        await Assert.That(db.HealthHttp).IsEqualTo("/ready?deep=1");
        await Assert.That(db.HealthTcp).IsFalse();
        await Assert.That(db.HealthIntervalMs).IsEqualTo(2000);
        await Assert.That(db.HealthTimeoutMs).IsEqualTo(500);
        await Assert.That(db.HealthRetries).IsEqualTo(4);
        await Assert.That(db.HealthStartPeriodMs).IsEqualTo(60_000);
        await Assert.That(db.Restart).IsEqualTo("unless-stopped");
        // The dependency is waited for (its health check passing) before web is sent.
        await Assert.That(db.NoWait).IsFalse();

        var web = requests[1];
        await Assert.That(web.Volumes!).IsEquivalentTo(["notes-cache:/var/cache"]);
        await Assert.That(web.HealthHttp).IsNull();
        await Assert.That(web.HealthIntervalMs).IsNull();
        await Assert.That(web.Restart).IsEqualTo("on-failure");

        // Another app's "data" is another volume.
        await Assert.That(AppRequests.For(app, "blog")[0].Volumes![0]).StartsWith("blog-data:");
    }

    [Test]
    [Arguments("[\"CMD\", \"curl\", \"-f\", \"http://localhost:8080/healthz\"]", "/healthz", false)]
    [Arguments("curl -fsS http://127.0.0.1:8080/ || exit 1", "/", false)]
    [Arguments("[\"CMD-SHELL\", \"wget -q --spider http://localhost:8080/up\"]", "/up", false)]
    [Arguments("[\"CMD\", \"nc\", \"-z\", \"localhost\", \"8080\"]", null, true)]
    public async Task A_test_that_only_probes_the_services_own_port_becomes_the_providers_check(string test, string? path, bool tcp)
    {
        var app = ComposeParser.Parse($"services:\n  a:\n    image: x\n    ports: [\"8080\"]\n    healthcheck:\n      test: {test}\n");
        ComposeRuntimeGaps.Refuse(app);

        var request = AppRequests.For(app, "shop").Single();

        await Assert.That(request.HealthHttp).IsEqualTo(path);
        await Assert.That(request.HealthTcp).IsEqualTo(tcp);
    }

    [Test]
    public async Task A_volume_name_over_63_characters_is_refused()
    {
        var app = ComposeParser.Parse($"services:\n  a:\n    image: x\n    volumes: [\"{new string('v', 40)}:/v\"]\nvolumes:\n  {new string('v', 40)}:\n");

        var ex = Assert.Throws<ComposeException>(() => AppRequests.For(app, new string('a', 30)));

        await Assert.That(ex.Message).Contains("longer than 63 characters");
    }
}

using PeerCompute.Core.Compose;

namespace PeerCompute.Core.Tests;

public class ComposeParserTests
{
    private const string Full = """
        name: shop
        version: "3.9"
        x-common: &common
          anything: [goes, here]
        services:
          web:
            image: registry.example/web:1.2
            command: httpd -f -p "8080" 'a b'
            environment:
              MODE: prod
              EMPTY: ""
              x-not-an-extension: kept
            ports:
              - "18080:8080"
            volumes:
              - data:/var/lib/web:ro
            depends_on:
              db:
                condition: service_healthy
              cache:
                condition: service_started
            deploy:
              resources:
                limits:
                  cpus: "0.5"
                  memory: 128M
            x-owner: sam
          db:
            image: busybox
            command: ["nc", "-lk", "-p", "6379"]
            environment:
              - A=1
              - B=x=y
            expose:
              - "6379"
            volumes:
              - type: volume
                source: data
                target: /data
                read_only: false
            healthcheck:
              test: ["CMD", "nc", "-z", "127.0.0.1", "6379"]
              interval: 1m30s
              timeout: 500ms
              retries: 3
              start_period: 2s
          cache:
            image: busybox
            ports:
              - target: 7000
                published: 7000
                protocol: tcp
            depends_on: [db]
            healthcheck:
              disable: true
        volumes:
          data:
            x-peercompute:
              size: 1GB
            x-other: 1
          scratch:
        """;

    [Test]
    public async Task Every_supported_key_is_read()
    {
        var app = ComposeParser.Parse(Full);

        await Assert.That(app.Name).IsEqualTo("shop");
        await Assert.That(string.Join(",", app.Services.Select(s => s.Name))).IsEqualTo("web,db,cache");
        var web = app.Services[0];
        await Assert.That(web.Image).IsEqualTo("registry.example/web:1.2");
        await Assert.That(string.Join("|", web.Command!)).IsEqualTo("httpd|-f|-p|8080|a b");
        await Assert.That(web.Environment["MODE"]).IsEqualTo("prod");
        await Assert.That(web.Environment["EMPTY"]).IsEqualTo("");
        await Assert.That(web.Environment["x-not-an-extension"]).IsEqualTo("kept");
        await Assert.That(web.Port).IsEqualTo(8080);
        await Assert.That(web.Public).IsTrue();
        await Assert.That(web.Volumes.Single()).IsEqualTo(new ComposeMount("data", "/var/lib/web", true, 16));
        await Assert.That(web.DependsOn.Select(d => (d.Service, d.Condition))).IsEquivalentTo([("db", DependencyCondition.Healthy), ("cache", DependencyCondition.Started)]);
        await Assert.That(web.CpuMillicores).IsEqualTo(500);
        await Assert.That(web.MemoryBytes).IsEqualTo(128L << 20);
        await Assert.That(web.Healthcheck).IsNull();

        var db = app.Services[1];
        await Assert.That(db.Command!).IsEquivalentTo(["nc", "-lk", "-p", "6379"]);
        await Assert.That(db.Environment["B"]).IsEqualTo("x=y");
        await Assert.That(db.Port).IsEqualTo(6379);
        await Assert.That(db.Public).IsFalse();
        await Assert.That(db.Volumes.Single().Target).IsEqualTo("/data");
        await Assert.That(db.Volumes.Single().ReadOnly).IsFalse();
        var health = db.Healthcheck!;
        await Assert.That(health.Test).IsEquivalentTo(["CMD", "nc", "-z", "127.0.0.1", "6379"]);
        await Assert.That(health.Interval).IsEqualTo(TimeSpan.FromSeconds(90));
        await Assert.That(health.Timeout).IsEqualTo(TimeSpan.FromMilliseconds(500));
        await Assert.That(health.Retries).IsEqualTo(3);
        await Assert.That(health.StartPeriod).IsEqualTo(TimeSpan.FromSeconds(2));
        await Assert.That(health.Disabled).IsFalse();

        var cache = app.Services[2];
        await Assert.That(cache.Port).IsEqualTo(7000);
        await Assert.That(cache.Public).IsTrue();
        await Assert.That(cache.Healthcheck!.Disabled).IsTrue();
        await Assert.That(cache.Command).IsNull();

        await Assert.That(app.Volumes).IsEquivalentTo([new ComposeVolume("data", 1L << 30, 57), new ComposeVolume("scratch", null, 61)]);
    }

    [Test]
    public async Task Services_start_after_what_they_depend_on()
    {
        var app = ComposeParser.Parse(Full);

        await Assert.That(string.Join(",", app.StartOrder().Select(s => s.Name))).IsEqualTo("db,cache,web");
    }

    [Test]
    public async Task A_string_healthcheck_runs_in_a_shell()
    {
        var app = ComposeParser.Parse("""
            services:
              a:
                image: busybox
                healthcheck:
                  test: wget -q -O- http://localhost/
            """);

        await Assert.That(app.Services[0].Healthcheck!.Test).IsEquivalentTo(["CMD-SHELL", "wget -q -O- http://localhost/"]);
    }

    [Test]
    [Arguments("  web:\n    image: busybox\n    privileged: true\n", "compose.yaml:5: services.web.privileged is not supported")]
    [Arguments("  web:\n    image: busybox\n    network_mode: host\n", "compose.yaml:5: services.web.network_mode is not supported")]
    [Arguments("  web:\n    image: busybox\n    build: .\n", "compose.yaml:5: services.web.build is not supported")]
    [Arguments("  web:\n    image: busybox\n    deploy:\n      replicas: 2\n", "compose.yaml:6: services.web.deploy.replicas is not supported")]
    [Arguments("  web:\n    image: busybox\n    deploy:\n      resources:\n        reservations:\n          memory: 1G\n", "compose.yaml:7: services.web.deploy.resources.reservations is not supported")]
    [Arguments("  web:\n    image: busybox\n    deploy:\n      resources:\n        limits:\n          pids: 10\n", "compose.yaml:8: services.web.deploy.resources.limits.pids is not supported")]
    [Arguments("  web:\n    image: busybox\n    ports:\n      - target: 80\n        mode: host\n", "compose.yaml:7: services.web.ports.mode is not supported")]
    [Arguments("  web:\n    image: busybox\n    healthcheck:\n      test: true\n      start_interval: 1s\n", "compose.yaml:7: services.web.healthcheck.start_interval is not supported")]
    [Arguments("  web:\n    image: busybox\n    depends_on:\n      db:\n        restart: true\n  db:\n    image: busybox\n", "compose.yaml:7: services.web.depends_on.db.restart is not supported")]
    [Arguments("  web:\n    image: busybox\n    volumes:\n      - type: volume\n        source: d\n        target: /d\n        volume:\n          nocopy: true\n", "compose.yaml:9: services.web.volumes.volume is not supported")]
    public async Task A_key_outside_the_subset_is_refused_with_its_line_and_path(string servicesBody, string expected)
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse("name: a\nservices:\n" + servicesBody + "volumes:\n  d:\n"));

        await Assert.That(ex.Message).IsEqualTo(expected);
    }

    [Test]
    [Arguments("networks:\n  n: {}\n", "compose.yaml:4: networks is not supported")]
    [Arguments("secrets:\n  s:\n    file: ./s\n", "compose.yaml:4: secrets is not supported")]
    [Arguments("volumes:\n  d:\n    driver: local\n", "compose.yaml:6: volumes.d.driver is not supported")]
    [Arguments("volumes:\n  d:\n    external: true\n", "compose.yaml:6: volumes.d.external is not supported")]
    [Arguments("volumes:\n  d:\n    x-peercompute:\n      size: 1GB\n      quota: hard\n", "compose.yaml:8: volumes.d.x-peercompute.quota is not supported")]
    [Arguments("volumes:\n  d:\n    x-peercompute:\n      size: lots\n", "compose.yaml:7: volumes.d.x-peercompute.size 'lots' is not a size (examples: 512MB, 1GB)")]
    public async Task Top_level_keys_outside_the_subset_are_refused(string extra, string expected)
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse("services:\n  web:\n    image: busybox\n" + extra));

        await Assert.That(ex.Message).IsEqualTo(expected);
    }

    [Test]
    [Arguments("    ports: [\"80\", \"81\"]\n", "services.web.ports: 2 ports; a service answers on one port")]
    [Arguments("    ports: [\"53/udp\"]\n", "only tcp ports are supported")]
    [Arguments("    ports: [\"8000-8010:80-81\"]\n", "port ranges are not supported")]
    [Arguments("    ports: [\"80\"]\n    expose: [\"81\"]\n", "ports (80) and expose (81) name different ports")]
    [Arguments("    volumes: [\"./data:/data\"]\n", "'./data' is a host path; only named volumes are supported")]
    [Arguments("    volumes: [\"/var/run/docker.sock:/sock\"]\n", "is a host path")]
    [Arguments("    volumes: [\"/data\"]\n", "anonymous volumes are not supported")]
    [Arguments("    volumes: [\"missing:/data\"]\n", "volume 'missing' is not declared under the top-level volumes")]
    [Arguments("    volumes: [\"d:relative\"]\n", "'relative' is not an absolute path inside the container")]
    [Arguments("    depends_on: [nobody]\n", "services.web.depends_on: no service 'nobody'")]
    [Arguments("    depends_on: [web]\n", "a service cannot depend on itself")]
    [Arguments("    depends_on:\n      db:\n        condition: service_completed_successfully\n", "service_completed_successfully is not supported")]
    [Arguments("    environment:\n      FROM_SHELL:\n", "services.web.environment.FROM_SHELL has no value")]
    [Arguments("    environment: [FROM_SHELL]\n", "'FROM_SHELL' has no value")]
    [Arguments("    command: echo 'unterminated\n", "unterminated single quote")]
    [Arguments("    deploy:\n      resources:\n        limits:\n          cpus: lots\n", "'lots' is not a CPU amount")]
    [Arguments("    healthcheck:\n      test: [\"RUN\", \"x\"]\n", "starting with CMD, CMD-SHELL or NONE")]
    [Arguments("    healthcheck:\n      test: x\n      interval: soon\n", "'soon' is not a duration")]
    [Arguments("    healthcheck:\n      interval: 1s\n", "services.web.healthcheck.test is missing")]
    [Arguments("    healthcheck:\n      x-peercompute: {health-http: healthz}\n", "services.web.healthcheck.x-peercompute.health-http: 'healthz' is not a path starting with '/'")]
    [Arguments("    healthcheck:\n      x-peercompute: {health-http: /h, health-tcp: true}\n", "health-http or health-tcp, not both")]
    [Arguments("    healthcheck:\n      x-peercompute: {health-cmd: x}\n", "services.web.healthcheck.x-peercompute.health-cmd is not supported")]
    [Arguments("    restart: on-failure:3\n", "services.web.restart: 'on-failure:3': a retry count is not supported")]
    [Arguments("    restart: sometimes\n", "services.web.restart: 'sometimes' is not no, on-failure, unless-stopped or always")]
    public async Task Invalid_values_inside_the_subset_are_refused_with_a_reason(string webBody, string expected)
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse(
            "services:\n  web:\n    image: busybox\n" + webBody + "  db:\n    image: busybox\nvolumes:\n  d:\n"));

        await Assert.That(ex.Message).StartsWith("compose.yaml:");
        await Assert.That(ex.Message).Contains(expected);
    }

    [Test]
    public async Task A_dependency_cycle_is_refused()
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse("""
            services:
              a:
                image: busybox
                depends_on: [b]
              b:
                image: busybox
                depends_on: [a]
            """));

        await Assert.That(ex.Message).Contains("depends_on forms a cycle (a, b)");
    }

    [Test]
    public async Task Service_healthy_needs_something_to_wait_for()
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse("""
            services:
              web:
                image: busybox
                depends_on:
                  db:
                    condition: service_healthy
              db:
                image: busybox
            """));

        await Assert.That(ex.Message).IsEqualTo("compose.yaml:5: services.web.depends_on.db: service_healthy needs db to have a healthcheck or a port (ports or expose)");
    }

    [Test]
    [Arguments("services:\n  Web_1:\n    image: busybox\n", "compose.yaml:2: services.Web_1: the name must be a DNS label")]
    [Arguments("services:\n  web:\n    command: x\n", "compose.yaml:2: services.web.image is missing")]
    [Arguments("services: {}\n", "no services")]
    [Arguments("name: a\n", "no services")]
    [Arguments("services:\n  - web\n", "compose.yaml:2: services must be a mapping")]
    [Arguments("- a\n", "compose.yaml:1: the file must be a mapping")]
    public async Task Structural_mistakes_are_refused(string text, string expected)
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse(text));

        await Assert.That(ex.Message).Contains(expected);
    }

    [Test]
    [Arguments("services:\n  web:\n    image: [unclosed\n", "compose.yaml:4: not valid YAML")]
    [Arguments("services:\n  web:\n    image: a\n    image: b\n", "compose.yaml:4: not valid YAML")]
    [Arguments("services:\n\tweb: {}\n", "compose.yaml:1: not valid YAML: While scanning a mapping, found invalid tab as indentation")]
    [Arguments("a: 1\n---\nb: 2\n", "compose.yaml:3: more than one YAML document")]
    [Arguments("", "compose.yaml: empty")]
    public async Task Bad_yaml_is_refused_with_its_line(string text, string expected)
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse(text));

        await Assert.That(ex.Message).StartsWith(expected);
    }

    [Test]
    public async Task The_file_name_prefixes_every_message()
    {
        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse("services:\n  web:\n    image: x\n    links: [a]\n", "deploy/shop.yml"));

        await Assert.That(ex.Message).IsEqualTo("deploy/shop.yml:4: services.web.links is not supported");
    }
}

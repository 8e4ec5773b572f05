using System.Text.Json;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.Firewall;
using PeerCompute.Runtime.Network;
using PeerCompute.Runtime.Status;
using PeerCompute.Runtime.Tests.Infrastructure;
using PeerCompute.Testing;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// An app's services on their own network, with the egress rules in place: they reach each other by service name,
/// nothing outside the app reaches them, and the network and its chain go with the app's last deployment.
/// </summary>
public sealed class AppNetworkTests
{
    private const string Owner = "12D3KooWOwnerApps";
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(5) };

    // A key-value store over HTTP: GET /key answers the value.
    private static readonly IReadOnlyList<string> Store = RuntimeHarness.Shell(
        "mkdir -p /tmp/kv && echo stored-value > /tmp/kv/key && exec httpd -f -p 6379 -h /tmp/kv");

    // The engine's DNS answers a service name; the test image's static wget crashes (name or not), so nslookup and nc.
    private const string Resolve = "nslookup store 2>/dev/null | awk '/^Address: / {a=$2} END {print a}'";

    private static string Get(string address) => $"printf 'GET /key HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} 6379 | tail -n 1";

    // Serves what it read from the store by service name.
    private static readonly IReadOnlyList<string> Web = RuntimeHarness.Shell(
        $"mkdir -p /tmp/www && until a=$({Resolve}) && [ -n \"$a\" ] && {Get("$a")} > /tmp/www/value && [ -s /tmp/www/value ]; do sleep 0.2; done; exec httpd -f -p 8080 -h /tmp/www");

    /// <summary>Reports whether the store answered by name and by address, then idles.</summary>
    private static IReadOnlyList<string> Prober(string storeAddress) => RuntimeHarness.Shell(
        $"a=$({Resolve}); if [ -n \"$a\" ]; then echo byname=reached; else echo byname=blocked; fi; "
        + $"if [ -n \"$({Get(storeAddress)})\" ]; then echo byaddress=reached; else echo byaddress=blocked; fi; "
        + "echo done=yes; exec httpd -f -p 8080 -h /www");

    private static DeploymentSpec Service(string app, string service, IReadOnlyList<string> command, int port, bool isPrivate = false)
        => RuntimeHarness.Busybox($"{app}-{service}", command) with { App = app, Service = service, ContainerPort = port, Private = isPrivate };

    [Test]
    public async Task Services_reach_each_other_by_name_and_nothing_else_reaches_them()
    {
        string network = "pcapp" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        string? appNetwork = null, otherNetwork = null;
        try
        {
            await using var harness = await RuntimeHarness.StartAsync(o => o with
            {
                NetworkName = network,
                Egress = new EgressOptions { DnsResolvers = [] },
            });
            var runtime = harness.Runtime;
            await Assert.That(runtime.EgressProblem).IsNull();
            appNetwork = AppNetwork.NameFor(harness.Options.Instance, Owner, "shop");
            otherNetwork = AppNetwork.NameFor(harness.Options.Instance, Owner, "other");

            var store = await runtime.DeployAsync(Service("shop", "store", Store, 6379, isPrivate: true), Owner);
            var ready = await runtime.WaitUntilReadyAsync(store, new Readiness.ReadinessOptions());
            await Assert.That(ready.Outcome).IsEqualTo(Readiness.ReadinessOutcome.Ready);
            var web = await runtime.DeployAsync(Service("shop", "web", Web, 8080), Owner);

            // The web service read the store by its service name, through the app's egress chain.
            string value = await Eventually.WaitAsync<string>(async () => await Client.GetStringAsync($"http://127.0.0.1:{web.HostPort}/value"), "web serving the store's value");
            await Assert.That(value.Trim()).IsEqualTo("stored-value");

            // The private store publishes nothing and gets no route.
            await Assert.That(store.HostPort).IsNull();
            await Assert.That(runtime.Routes.TryGetUpstream("shop-store", out _)).IsFalse();
            var inspect = await TestEngine.InspectAsync(store.ContainerId!);
            await Assert.That(inspect.GetProperty("HostConfig").GetProperty("PortBindings").EnumerateObject().Any()).IsFalse();
            await Assert.That(inspect.GetProperty("NetworkSettings").GetProperty("Networks").EnumerateObject().Select(n => n.Name)).IsEquivalentTo([appNetwork]);

            var storeAddress = (await runtime.GetStatusAsync(store.Id, Owner, includeUsage: false)).ContainerAddress!.ToString();
            // Neither a deployment on the shared bridge nor another app of the same owner reaches the store.
            var outsider = await runtime.DeployAsync(RuntimeHarness.Busybox("outsider", Prober(storeAddress)), Owner);
            var otherApp = await runtime.DeployAsync(Service("other", "probe", Prober(storeAddress), 8080), Owner);
            foreach (var prober in new[] { outsider, otherApp })
            {
                string output = await Eventually.WaitAsync<string>(async () =>
                {
                    var (stdout, _) = await ContainerOutput.LogsAsync(runtime, prober.Id, Owner);
                    return stdout.Contains("done=yes", StringComparison.Ordinal) ? stdout : null;
                }, $"{prober.Name} probing the store");
                await Assert.That(ContainerOutput.Line(output, "byname")).IsEqualTo("blocked");
                await Assert.That(ContainerOutput.Line(output, "byaddress")).IsEqualTo("blocked");
            }

            // The app's bridge: its own, 15 characters at most, containers may talk; its chain lets them.
            var facts = JsonDocument.Parse((await Cli.DockerAsync("network", "inspect", appNetwork)).EnsureSuccess("docker network inspect").Stdout).RootElement[0];
            await Assert.That(facts.GetProperty("Options").GetProperty("com.docker.network.bridge.name").GetString()).IsEqualTo(appNetwork);
            await Assert.That(facts.GetProperty("Options").GetProperty("com.docker.network.bridge.enable_icc").GetString()).IsEqualTo("true");
            await Assert.That(appNetwork.Length).IsLessThanOrEqualTo(15);
            var chain = (await Cli.RunAsync("iptables", ["-S", "PCEGRESS-" + appNetwork])).EnsureSuccess("iptables -S").Stdout;
            await Assert.That(chain).Contains($"-o {appNetwork} -j RETURN");
            await Assert.That(chain).Contains("-d 172.16.0.0/12 -j REJECT");

            // Removing one service keeps the network for the other; the last one takes network and chain along.
            await runtime.RemoveAsync(web.Id, Owner);
            await Assert.That((await Cli.DockerAsync("network", "inspect", appNetwork)).ExitCode).IsEqualTo(0);
            await runtime.RemoveAsync(store.Id, Owner);
            await Assert.That((await Cli.DockerAsync("network", "inspect", appNetwork)).ExitCode).IsNotEqualTo(0);
            await Assert.That((await Cli.RunAsync("iptables", ["-S", "PCEGRESS-" + appNetwork])).ExitCode).IsNotEqualTo(0);
            await Assert.That((await Cli.RunAsync("iptables", ["-S", "DOCKER-USER"])).Stdout).DoesNotContain(appNetwork);

            await runtime.RemoveAsync(outsider.Id, Owner);
            await runtime.RemoveAsync(otherApp.Id, Owner);
        }
        finally
        {
            await CleanUpAsync(network);
            if (appNetwork is not null)
                await CleanUpAsync(appNetwork);
            if (otherNetwork is not null)
                await CleanUpAsync(otherNetwork);
        }
    }

    private static async Task CleanUpAsync(string network)
    {
        await new EgressFirewall(network, new EgressOptions()).RemoveAsync();
        var ids = (await Cli.DockerAsync("ps", "-aq", "--filter", $"network={network}")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
            await Cli.DockerAsync(["rm", "-f", .. ids]);
        await Cli.DockerAsync("network", "rm", network);
    }
}

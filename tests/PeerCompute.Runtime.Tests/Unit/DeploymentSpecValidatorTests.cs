using PeerCompute.Runtime.Deployments;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class DeploymentSpecValidatorTests
{
    private static readonly RuntimeOptions Options = new();

    private static DeploymentSpec Valid => new()
    {
        Name = "web",
        Image = "peercompute-test/busybox:latest",
        ContainerPort = 8080,
        CpuMillicores = 500,
        MemoryBytes = 128 * RuntimeOptions.MiB,
        Environment = new Dictionary<string, string> { ["MODE"] = "prod", ["_X1"] = "" },
        Command = ["httpd", "-f"],
    };

    [Test]
    public async Task A_reasonable_request_passes()
    {
        var image = DeploymentSpecValidator.Validate(Valid, Options);
        await Assert.That(image.Path).IsEqualTo("peercompute-test/busybox");
    }

    [Test]
    [Arguments(0, "cpu")]
    [Arguments(-100, "cpu")]
    [Arguments(5, "cpu")]
    [Arguments(4001, "cpu")]
    [Arguments(int.MaxValue, "cpu")]
    public async Task Zero_negative_or_absurd_cpu_is_refused(int millicores, string field)
    {
        var error = Refused(Valid with { CpuMillicores = millicores });
        await Assert.That(error.Message).StartsWith(field + ":");
    }

    [Test]
    [Arguments(0L)]
    [Arguments(-1L)]
    [Arguments(1024L)]
    [Arguments(5L * 1024 * 1024 * 1024)]
    [Arguments(long.MaxValue)]
    public async Task Zero_negative_or_absurd_memory_is_refused(long bytes)
    {
        var error = Refused(Valid with { MemoryBytes = bytes });
        await Assert.That(error.Message).StartsWith("memory:");
    }

    [Test]
    [Arguments(-1)]
    [Arguments(65536)]
    public async Task Ports_outside_the_tcp_range_are_refused(int port)
        => await Assert.That(Refused(Valid with { ContainerPort = port }).Message).StartsWith("container port:");

    [Test]
    public async Task Port_zero_asks_for_the_image_s_port()
    {
        await Assert.That(DeploymentSpecValidator.Validate(Valid with { ContainerPort = DeploymentSpec.PortFromImage }, Options).LocalName).IsNotNull();
    }

    [Test]
    [Arguments("")]
    [Arguments("Web")]
    [Arguments("-web")]
    [Arguments("web-")]
    [Arguments("web_app")]
    [Arguments("a.b")]
    public async Task Names_that_are_not_dns_labels_are_refused(string name)
        => await Assert.That(Refused(Valid with { Name = name }).Message).StartsWith("name:");

    [Test]
    [Arguments("1ABC")]
    [Arguments("A-B")]
    [Arguments("A=B")]
    [Arguments("")]
    public async Task Environment_names_must_be_variable_names(string name)
        => await Assert.That(Refused(Valid with { Environment = new Dictionary<string, string> { [name] = "v" } }).Message).StartsWith("environment:");

    [Test]
    public async Task Environment_and_command_sizes_are_bounded()
    {
        var many = Enumerable.Range(0, Options.MaxEnvironmentVariables + 1).ToDictionary(i => $"V{i}", _ => "x");
        await Assert.That(Refused(Valid with { Environment = many }).Message).Contains("at most 128");
        await Assert.That(Refused(Valid with { Environment = new Dictionary<string, string> { ["BIG"] = new string('x', 40_000) } }).Message).Contains("bytes in all");
        await Assert.That(Refused(Valid with { Command = [] }).Message).StartsWith("command:");
        await Assert.That(Refused(Valid with { Command = Enumerable.Repeat("a", 65).ToArray() }).Message).StartsWith("command:");
        await Assert.That(Refused(Valid with { Command = ["a\0b"] }).Message).StartsWith("command:");
    }

    [Test]
    public async Task Every_request_for_host_access_is_refused_with_the_field_named()
    {
        await Assert.That(Refused(Valid with { Privileged = true }).Message).StartsWith("privileged:");
        await Assert.That(Refused(Valid with { Volumes = ["/etc:/etc"] }).Message).StartsWith("volumes:");
        await Assert.That(Refused(Valid with { Devices = ["/dev/sda"] }).Message).StartsWith("devices:");
        await Assert.That(Refused(Valid with { CapAdd = ["NET_ADMIN"] }).Message).StartsWith("cap-add:");
        await Assert.That(Refused(Valid with { SecurityOptions = ["seccomp=unconfined"] }).Message).Contains("seccomp=unconfined");
        await Assert.That(Refused(Valid with { HostNetwork = true }).Message).StartsWith("network:");
        await Assert.That(Refused(Valid with { HostPid = true }).Message).StartsWith("pid:");
        await Assert.That(Refused(Valid with { HostIpc = true }).Message).StartsWith("ipc:");
        await Assert.That(Refused(Valid with { HostUts = true }).Message).StartsWith("uts:");
    }

    [Test]
    public async Task Credentials_need_a_username()
        => await Assert.That(Refused(Valid with { RegistryCredentials = new RegistryCredentials("", "secret") }).Message).StartsWith("registry credentials:");

    [Test]
    public async Task Credentials_never_show_their_password()
        => await Assert.That(new RegistryCredentials("alice", "s3cret-pw").ToString()).DoesNotContain("s3cret-pw");

    private static RuntimeException Refused(DeploymentSpec spec)
    {
        try
        {
            DeploymentSpecValidator.Validate(spec, Options);
        }
        catch (RuntimeException ex) when (ex.Code == RuntimeErrorCode.InvalidSpec)
        {
            return ex;
        }
        throw new InvalidOperationException("the request was accepted");
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>The registry check on its own, with names resolved by a stand-in (the Docker tests show the engine is never asked).</summary>
public sealed class RegistryGuardTests
{
    private static RegistryGuard Guard(IReadOnlyList<string>? allowed = null, params string[] resolvesTo)
        => new(allowed ?? [], NullLogger.Instance, (_, _) => Task.FromResult(resolvesTo.Select(IPAddress.Parse).ToArray()));

    private static Task Check(RegistryGuard guard, string image) => guard.EnsureAllowedAsync(ImageReference.Parse(image), CancellationToken.None);

    [Test]
    [Arguments("127.0.0.1:5000/x")]
    [Arguments("127.1.2.3/x")]
    [Arguments("10.1.2.3/x")]
    [Arguments("172.20.0.1/x")]
    [Arguments("192.168.1.1:443/x")]
    [Arguments("169.254.169.254/x")]
    [Arguments("100.100.100.100/x")]
    [Arguments("0.0.0.0:5000/x")]
    [Arguments("[::1]:5000/x")]
    [Arguments("[::]:5000/x")]
    [Arguments("[fe80::1]/x")]
    [Arguments("[fd12:3456::1]/x")]
    [Arguments("[::ffff:10.0.0.1]/x")]
    [Arguments("[::ffff:169.254.169.254]/x")]
    public async Task Literal_addresses_in_blocked_ranges_are_refused(string image)
    {
        var error = await Assert.ThrowsAsync<RuntimeException>(() => Check(Guard(), image));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
    }

    [Test]
    public async Task A_name_is_refused_when_any_address_it_resolves_to_is_blocked()
    {
        var error = await Assert.ThrowsAsync<RuntimeException>(() => Check(Guard(null, "93.184.216.34", "10.0.0.5"), "registry.example:5000/x"));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
        // The requester is not told what the provider's resolver answered.
        await Assert.That(error.Message).DoesNotContain("10.0.0.5");
        await Check(Guard(null, "93.184.216.34", "2606:2800:220:1::1"), "registry.example:5000/x");
    }

    [Test]
    public async Task A_name_that_does_not_resolve_is_a_registry_that_cannot_be_reached()
    {
        var guard = new RegistryGuard([], NullLogger.Instance, (_, _) => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)));
        var error = await Assert.ThrowsAsync<RuntimeException>(() => Check(guard, "nowhere.example/x"));
        await Assert.That(error!.Code).IsEqualTo(RuntimeErrorCode.ImagePullFailed);
        await Assert.That(error.Message).Contains("could not be reached");
        var empty = await Assert.ThrowsAsync<RuntimeException>(() => Check(Guard(null), "nowhere.example/x"));
        await Assert.That(empty!.Code).IsEqualTo(RuntimeErrorCode.ImagePullFailed);
    }

    [Test]
    public async Task Public_addresses_and_the_default_registry_pass_without_a_lookup()
    {
        var noLookups = new RegistryGuard([], NullLogger.Instance, (host, _) => throw new InvalidOperationException($"looked up {host}"));
        await Check(noLookups, "busybox:1.36");
        await Check(noLookups, "docker.io/library/busybox");
        await Check(noLookups, "93.184.216.34:5000/x");
        await Check(noLookups, "[2606:2800:220:1::1]/x");
    }

    [Test]
    public async Task The_allow_list_names_a_registry_by_host_or_by_host_and_port()
    {
        var byHostAndPort = Guard(["127.0.0.1:5000", "[::1]:5000"]);
        await Check(byHostAndPort, "127.0.0.1:5000/x");
        await Check(byHostAndPort, "[::1]:5000/x");
        await Assert.That((await Assert.ThrowsAsync<RuntimeException>(() => Check(byHostAndPort, "127.0.0.1:5001/x")))!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);
        // Allowed by the name written, not by address: another name for the same address is another registry.
        var viaName = Guard(["127.0.0.1:5000"], "127.0.0.1");
        await Assert.That((await Assert.ThrowsAsync<RuntimeException>(() => Check(viaName, "localhost:5000/x")))!.Code).IsEqualTo(RuntimeErrorCode.RegistryBlocked);

        var byHost = Guard(["Registry.LAN"], "192.168.1.10");
        await Check(byHost, "registry.lan/x");
        await Check(byHost, "registry.lan:5000/x");
    }

    [Test]
    [Arguments("127.0.0.1:5000", "127.0.0.1:5000")]
    [Arguments(" Registry.LAN ", "registry.lan")]
    [Arguments("[::1]:5000", "[::1]:5000")]
    [Arguments("[0:0::1]", "[::1]")]
    [Arguments("localhost:0", null)]
    [Arguments("http://registry.lan", null)]
    [Arguments("registry.lan/x", null)]
    [Arguments("", null)]
    public async Task Allowed_registry_names_are_checked_and_written_one_way(string text, string? normalized)
    {
        bool ok = RegistryNames.TryNormalize(text, out string? registry);
        await Assert.That(ok).IsEqualTo(normalized is not null);
        await Assert.That(registry).IsEqualTo(normalized);
    }
}

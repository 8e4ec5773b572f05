using System.Buffers;
using System.Text.Json;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Storage;
using PeerCompute.Net.Host;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Deploy;

/// <summary>Everything the provider and peerctl must refuse, each with a clear message and a non-zero exit.</summary>
[NotInParallel("system")]
public class RefusalTests
{
    [Test]
    public async Task A_client_the_provider_does_not_trust_is_refused()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var stranger = await PeerNode.CreateAsync("stranger");
        await using var daemon = await ProviderProcess.StartAsync(provider);
        await stranger.TrustAsync(provider, "maya", daemon.Address);

        var result = await stranger.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--port", "8080");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("not in this provider's trust list");
        await daemon.Process.WaitForLineAsync(l => l.Contains("refused deploy", StringComparison.Ordinal) && l.Contains(stranger.PeerId, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task A_client_that_trusts_nobody_sends_nothing()
    {
        using var user = await PeerNode.CreateAsync("lonely");
        var result = await user.CtlAsync("status");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("No trusted provider");
    }

    [Test]
    public async Task A_provider_the_client_has_not_added_is_not_contacted()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var user = await PeerNode.CreateAsync("user");
        var result = await user.CtlAsync("status", "--peer", provider.PeerId);
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("not in your trust list");
    }

    [Test]
    public async Task An_address_answered_by_another_peer_is_refused_by_noise()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var impostor = await PeerNode.CreateAsync("impostor");
        using var user = await PeerNode.CreateAsync("user");
        await impostor.TrustAsync(user, "sam");
        await using var daemon = await ProviderProcess.StartAsync(impostor);
        // The user trusts `provider`, but the address belongs to `impostor`.
        await user.TrustAsync(provider, "maya", daemon.Address);
        var result = await user.CtlAsync("status");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        // Noise proved who answers: the message names both ids instead of blaming the address.
        await Assert.That(result.StandardError).Contains($"is {impostor.PeerId}, not the {provider.PeerId} in your trust list");
    }

    [Test]
    public async Task An_unreachable_provider_names_the_address_tried()
    {
        using var provider = await PeerNode.CreateAsync("provider");
        using var user = await PeerNode.CreateAsync("user");
        await user.TrustAsync(provider, "maya", "/ip4/127.0.0.1/tcp/1");
        var result = await user.CtlAsync("status", "--json");
        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError).Contains("/ip4/127.0.0.1/tcp/1");
        await Assert.That(JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("unreachable");
    }

    [Test]
    public async Task Another_trusted_peer_cannot_see_stop_or_read_logs_of_my_deployment()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        var other = await cluster.AddUserAsync("other", "lee");

        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "mine", "--port", "8080");

        var status = JsonDocument.Parse(await other.CtlOkAsync("status", "--json")).RootElement;
        await Assert.That(status.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
        foreach (var command in new[] { new[] { "stop", "mine" }, ["logs", "mine"], ["status", "mine"] })
        {
            var result = await other.CtlAsync(command);
            await Assert.That(result.ExitCode).IsEqualTo(1);
            await Assert.That(result.StandardError).Contains("No deployment 'mine'");
        }
        var mine = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement;
        await Assert.That(mine.GetProperty("deployments").EnumerateArray().Single().GetProperty("state").GetString()).IsEqualTo("running");
    }

    [Test]
    public async Task Another_peer_cannot_take_the_name_and_so_the_public_url_of_my_deployment()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        var other = await cluster.AddUserAsync("other", "lee");
        await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080");

        var taken = await other.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json");

        await Assert.That(taken.ExitCode).IsEqualTo(1);
        var error = JsonDocument.Parse(taken.StandardOutput).RootElement.GetProperty("error");
        await Assert.That(error.GetProperty("code").GetString()).IsEqualTo("name_taken");
        await Assert.That(error.GetProperty("message").GetString()).Contains("choose another --name");
        var mine = JsonDocument.Parse(await user.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments");
        await Assert.That(mine.GetArrayLength()).IsEqualTo(1);
        await Assert.That(JsonDocument.Parse(await other.CtlOkAsync("status", "--json")).RootElement.GetProperty("deployments").GetArrayLength()).IsEqualTo(0);
    }

    [Test]
    public async Task Replayed_request_bytes_are_refused()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        using var identity = IdentityStore.Load(new PeerComputeHome(user.Home));

        // The exact bytes peerctl would send: a signed status request.
        var buffer = new ArrayBufferWriter<byte>();
        var request = new StatusRequest(RequestSigning.Now(), RequestSigning.NewNonce());
        FrameCodec.Write(buffer, FrameType.StatusRequest, request, ProtocolJsonContext.Default.StatusRequest);
        var signature = RequestSigning.Sign(identity, buffer.WrittenSpan);
        FrameCodec.Write(buffer, FrameType.RequestSignature, signature, ProtocolJsonContext.Default.RequestSignature);
        byte[] captured = buffer.WrittenSpan.ToArray();

        await using var client = await RawProviderClient.ConnectAsync(identity, daemon.Address, provider.PeerId);
        var first = await client.ExchangeAsync(captured);
        await Assert.That(first.Type).IsEqualTo(FrameType.StatusResponse);
        var second = await client.ExchangeAsync(captured);
        await Assert.That(second.Type).IsEqualTo(FrameType.Error);
        await Assert.That(second.Json).Contains("\"code\":\"replay\"");
    }

    [Test]
    [Arguments(new byte[] { 99, 0, 0, 0, 2, (byte)'{', (byte)'}' }, "unknown_type")]
    [Arguments(new byte[] { 6, 0, 0, 0, 3, (byte)'{', (byte)'x', (byte)'}' }, "malformed_frame")]
    [Arguments(new byte[] { 6, 0x7f, 0xff, 0xff, 0xff }, "frame_too_large")]
    [Arguments(new byte[] { 2, 0, 0, 0, 2, (byte)'{', (byte)'}' }, "unexpected_type")]
    public async Task Malformed_frames_get_an_error_frame_and_the_provider_keeps_serving(byte[] bytes, string code)
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        using var identity = IdentityStore.Load(new PeerComputeHome(user.Home));
        await using var client = await RawProviderClient.ConnectAsync(identity, daemon.Address, provider.PeerId);

        var answer = await client.ExchangeAsync(bytes);
        await Assert.That(answer.Type).IsEqualTo(FrameType.Error);
        await Assert.That(answer.Json).Contains($"\"code\":\"{code}\"");
        await Assert.That((await user.CtlAsync("status")).ExitCode).IsEqualTo(0);
    }

    [Test]
    public async Task An_unsigned_request_is_refused()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        using var identity = IdentityStore.Load(new PeerComputeHome(user.Home));
        await using var client = await RawProviderClient.ConnectAsync(identity, daemon.Address, provider.PeerId);
        var frame = FrameCodec.Encode(FrameType.StatusRequest, new StatusRequest(RequestSigning.Now(), RequestSigning.NewNonce()), ProtocolJsonContext.Default.StatusRequest);
        var answer = await client.ExchangeAsync(frame, closeWrites: true);
        await Assert.That(answer.Json).Contains("\"code\":\"unsigned\"");
    }
}

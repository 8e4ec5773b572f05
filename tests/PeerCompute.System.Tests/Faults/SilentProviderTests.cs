using System.Text.Json;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Net.Host;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// A provider that accepts the connection and the request stream, reads the request and never answers. The real
/// peerctl (the published binary) gives up after <c>--timeout</c>, names the provider and the
/// timeout, and exits non-zero, for status and for stop.
/// </summary>
public sealed class SilentProviderTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Test]
    [Arguments("status")]
    [Arguments("stop")]
    public async Task A_provider_that_never_answers_is_a_timeout_error_naming_it(string command)
    {
        using var identity = PeerIdentity.Generate();
        await using var provider = new Libp2pHost(identity);
        var requestArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.SetStreamHandler(ProtocolIds.PeerCompute, async (stream, ct) =>
        {
            requestArrived.TrySetResult();
            // Read whatever comes (the request and its signature), answer nothing, keep the stream open.
            try
            {
                await stream.Stream.CopyToAsync(Stream.Null, ct);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        });
        var address = await provider.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));

        string home = Path.Combine(Directory.CreateTempSubdirectory("pc-silent-").FullName, "home");
        try
        {
            var env = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["PEERCOMPUTE_IDENTITY_KEY"] = null, ["CI"] = "true" };
            await PeerctlOkAsync(env, "init", "--json");
            await PeerctlOkAsync(env, "peers", "add", identity.PeerId.ToString(), "--name", "silent", "--addr", address.ToString());

            string[] args = command == "stop" ? ["stop", "web", "--timeout", "1"] : ["status", "--timeout", "1"];
            var result = await TestProcess.RunAsync(PeerNode.Peerctl, [.. args], env, Bound);

            await Assert.That(requestArrived.Task.IsCompleted).IsTrue();
            await Assert.That(result.ExitCode).IsNotEqualTo(0);
            await Assert.That(result.StandardError).Contains("silent");
            await Assert.That(result.StandardError).Contains(identity.PeerId.ToString());
            await Assert.That(result.StandardError).Contains("within 1 s (--timeout)");

            var json = await TestProcess.RunAsync(PeerNode.Peerctl, [.. args, "--json"], env, Bound);
            await Assert.That(json.ExitCode).IsNotEqualTo(0);
            using var error = JsonDocument.Parse(json.StandardOutput);
            await Assert.That(error.RootElement.GetProperty("error").GetProperty("code").GetString()).IsEqualTo("timeout");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(home)!, recursive: true);
        }
    }


    private static async Task PeerctlOkAsync(IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        var result = await TestProcess.RunAsync(PeerNode.Peerctl, [.. args], env, Bound);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"peerctl {string.Join(' ', args)} failed: {result}");
    }
}

using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Storage;
using PeerCompute.Net.Host;
using PeerCompute.System.Tests.Deploy;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Security;

/// <summary>
/// The identity key stays on its machine and the trust list only changes by its owner's hand: the published programs,
/// a whole session through a gateway, everything they print and write searched for the key in every usual encoding.
/// </summary>
[NotInParallel("system")]
public class KeyAndTrustTests
{
    [Test]
    public async Task No_private_key_appears_in_any_output_file_or_container_of_a_whole_session()
    {
        await using var cluster = await TrustedCluster.StartWithGatewayAsync(providerArgs: ["--log-format", "json"]);
        var (provider, user, daemon) = cluster;
        var gateway = cluster.Gateway;
        var gatewayNode = gateway.Node;
        var stranger = await cluster.AddStrangerAsync("stranger");

        // Successes and failures alike: error paths are where secrets tend to leak into messages.
        var outputs = new List<string>
        {
            await user.CtlOkAsync("deploy", DeployWorkflowTests.TestImage, "--name", "web", "--port", "8080", "--json", "--env", "GREETING=hi"),
            await user.CtlOkAsync("status", "--json"),
            await user.CtlOkAsync("logs", "web"),
            await user.CtlOkAsync("id", "--json"),
            await user.CtlOkAsync("peers", "list", "--json"),
            (await stranger.CtlAsync("status")).ToString(),
            (await stranger.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "x")).ToString(),
            (await user.CtlAsync("deploy", DeployWorkflowTests.TestImage, "--name", "big", "--cpu", "64")).ToString(),
            (await user.CtlAsync("logs", "nothing-here")).ToString(),
        };
        string status = outputs[1];
        string container = "pc-" + JsonDocument.Parse(status).RootElement.GetProperty("deployments")[0].GetProperty("id").GetString();
        outputs.Add(await Docker.InspectAsync(container, "{{json .Config}} {{json .HostConfig}} {{json .Mounts}}"));
        outputs.Add((await TestProcess.RunAsync("docker", ["exec", container, "sh", "-c", "env; cat /proc/1/environ; ls -la / /tmp"])).ToString());
        // The files as they are while the deployment runs (its record goes away with stop), then again at the end.
        var nodes = new[] { provider, user, stranger, gatewayNode };
        await Assert.That(Directory.EnumerateFiles(provider.Home, "*.json", SearchOption.AllDirectories).Count()).IsGreaterThanOrEqualTo(2);
        outputs.AddRange(nodes.SelectMany(WrittenFiles));
        await user.CtlOkAsync("stop", "web");
        outputs.AddRange(nodes.SelectMany(WrittenFiles));
        outputs.Add(daemon.Process.Output);
        outputs.Add(gateway.Process.Output);

        // The search covers what matters: the logs of a real session and the files each program wrote.
        await Assert.That(daemon.Process.Output).Contains("gateway tunnel connected");
        await Assert.That(gateway.Process.Output).Contains("gateway up");
        foreach (var node in nodes)
        {
            var secrets = SecretForms(node);
            foreach (string text in outputs)
                foreach (string secret in secrets)
                    await Assert.That(text.Contains(secret, StringComparison.OrdinalIgnoreCase)).IsFalse()
                        .Because($"the private key of {node.PeerId} (as {secret[..6]}…) showed up in: {text[..Math.Min(200, text.Length)]}");
        }
    }

    [Test]
    public async Task Nothing_a_peer_sends_changes_the_providers_trust_list()
    {
        await using var cluster = await TrustedCluster.StartAsync();
        var (provider, user, daemon) = cluster;
        using var stranger = await PeerNode.CreateAsync("stranger");
        var home = new PeerComputeHome(provider.Home);
        byte[] before = await File.ReadAllBytesAsync(home.TrustedPeersFile);
        var writtenBefore = File.GetLastWriteTimeUtc(home.TrustedPeersFile);

        // Every frame type, and the types beyond, each with a body that names the stranger as if asking to trust it,
        // from a trusted peer (signed) and from the stranger.
        string body = $$"""{"peerId":"{{stranger.PeerId}}","name":"evil","trust":true,"add":"{{stranger.PeerId}}","timestamp":{{RequestSigning.Now()}},"nonce":"{{RequestSigning.NewNonce()}}"}""";
        var answers = new List<string>();
        foreach (var (node, sign) in new[] { (user, true), (stranger, false), (stranger, true) })
        {
            using var identity = IdentityStore.Load(new PeerComputeHome(node.Home));
            await using var client = await RawProviderClient.ConnectAsync(identity, daemon.Address, provider.PeerId);
            foreach (byte type in Enumerable.Range(0, 256).Where(t => t <= 16 || t % 37 == 0).Select(t => (byte)t))
            {
                var buffer = new ArrayBufferWriter<byte>();
                byte[] payload = Encoding.UTF8.GetBytes(body);
                buffer.Write([type, .. BitConverter.GetBytes(global::System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(payload.Length))]);
                buffer.Write(payload);
                if (sign)
                    FrameCodec.Write(buffer, FrameType.RequestSignature, RequestSigning.Sign(identity, buffer.WrittenSpan), ProtocolJsonContext.Default.RequestSignature);
                answers.Add((await client.ExchangeOrClosedAsync(buffer.WrittenSpan.ToArray()))?.ToString() ?? "closed");
            }
        }

        await Assert.That(await File.ReadAllBytesAsync(home.TrustedPeersFile)).IsEquivalentTo(before);
        await Assert.That(File.GetLastWriteTimeUtc(home.TrustedPeersFile)).IsEqualTo(writtenBefore);
        await Assert.That(await provider.CtlOkAsync("peers", "list")).DoesNotContain(stranger.PeerId);
        // The provider still serves its real client afterwards, and still refuses the stranger.
        await Assert.That((await user.CtlAsync("status")).ExitCode).IsEqualTo(0);
        await stranger.TrustAsync(provider, "maya", daemon.Address);
        var refused = await stranger.CtlAsync("status");
        await Assert.That(refused.ExitCode).IsEqualTo(1);
        await Assert.That(answers).Contains(a => a.Contains("\"code\":\"untrusted\"", StringComparison.Ordinal));
    }

    [Test]
    [Arguments("peercomputed")]
    [Arguments("peerctl")]
    public async Task A_key_file_others_can_read_is_refused_by_the_programs(string program)
    {
        using var node = await PeerNode.CreateAsync("loose-key");
        string key = new PeerComputeHome(node.Home).IdentityKeyFile;
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var result = program == "peerctl"
            ? await node.CtlAsync("id")
            : await TestProcess.RunAsync(PeerNode.Peercomputed, ["--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"], node.Environment, TimeSpan.FromMinutes(1));

        await Assert.That(result.ExitCode).IsEqualTo(1);
        await Assert.That(result.StandardError + result.StandardOutput).Contains($"chmod 600 {key}");
        await Assert.That(File.GetUnixFileMode(key) & UnixFileMode.OtherRead).IsEqualTo(UnixFileMode.OtherRead); // reported, not silently changed
    }

    /// <summary>Every file a program wrote under the node's home but its key, as "path:\ncontent".</summary>
    private static IEnumerable<string> WrittenFiles(PeerNode node) =>
        Directory.EnumerateFiles(node.Home, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "identity.key" && !f.EndsWith(".lock", StringComparison.Ordinal)) // lock files: empty, and held
            .Where(f => Path.GetFileName(f) != "control.sock") // the provider's control socket: a socket, not a file, holds nothing
            .Select(f => ReadShared(f) is { } content ? f + ":\n" + content : null)
            .OfType<string>()
            .ToList();

    /// <summary>
    /// Reads a file another process may hold open (the daemon's lock file, for one); null when it went away between
    /// the listing and the read (a temporary file renamed into place, such as the gateway's hostnames file, whose
    /// content is then read under its final name).
    /// </summary>
    private static string? ReadShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.Latin1);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The private key as it could leak: the 32-byte seed and the whole key file, in hex, base64 and base58.</summary>
    private static string[] SecretForms(PeerNode node)
    {
        byte[] file = File.ReadAllBytes(new PeerComputeHome(node.Home).IdentityKeyFile);
        byte[] seed = file[4..36];
        byte[] seedAndPublic = file[4..];
        return
        [
            Convert.ToHexString(seed),
            Convert.ToBase64String(seed).TrimEnd('='),
            Convert.ToBase64String(seedAndPublic).TrimEnd('='),
            Convert.ToBase64String(file).TrimEnd('='),
            Convert.ToBase64String(seed).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            Base58.Encode(seed),
            Convert.ToHexString(SHA256.HashData(seed))[..16], // not a form of the key, but nothing should print a digest of it either
        ];
    }
}

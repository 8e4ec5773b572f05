using System.Text;
using System.Text.Json;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Storage;
using PeerCompute.Core.Trust;
using PeerCompute.Provider.Configuration;
using PeerCompute.Runtime;
using PeerCompute.Runtime.Deployments;
using PeerCompute.Runtime.State;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Gateway;

namespace PeerCompute.Fuzz.Targets;

/// <summary>A private scratch folder per process for the targets that read files (on tmpfs when there is one).</summary>
internal static class Scratch
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string parent = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string path = Path.Combine(parent, $"peercompute-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(path, recursive: true); } catch (IOException) { }
        };
        return path;
    });

    public static string Folder(string name)
    {
        string path = Path.Combine(Root.Value, name);
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>
/// <c>trusted_peers.json</c>: a file that is not a valid trust list is refused with <see cref="TrustStoreException"/>,
/// never another exception; an accepted list answers List/IsTrusted/Find and survives an Add and a Remove
/// (read-modify-write) with its other entries unchanged. Input: the file's content.
/// </summary>
public sealed class TrustStoreTarget : FuzzTarget
{
    private const string NewPeer = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

    public override string Name => "trust-store";
    public override string Description => "TrustStore reading trusted_peers.json (List, Find, Add, Remove)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        var home = new PeerComputeHome(Scratch.Folder("home"));
        File.WriteAllBytes(home.TrustedPeersFile, input.ToArray());
        var store = new TrustStore(home);
        IReadOnlyList<TrustedPeer> peers;
        try
        {
            peers = store.List();
        }
        catch (TrustStoreException)
        {
            return;
        }
        foreach (var p in peers)
        {
            Check(p is not null && PeerId.TryParse(p.PeerId, out _), "an accepted list holds an invalid entry");
            Check(p!.Addrs is not null, $"entry {p.PeerId} has no address list");
            _ = store.Find(p.Name ?? p.PeerId);
            _ = store.IsTrusted(PeerId.Parse(p.PeerId));
            // peerctl dials these with Multiaddr.Parse: an accepted list holds only addresses that parse.
            foreach (string a in p.Addrs!)
                Check(PeerCompute.Core.Multiformats.Multiaddr.TryParse(a, out _, out _), $"entry {p.PeerId} holds an invalid address '{a}'");
        }
        Await(async ct =>
        {
            try
            {
                await store.AddAsync(NewPeer, null, ["/ip4/192.0.2.1/tcp/9000"], ct);
                await store.RemoveAsync(NewPeer, ct);
            }
            catch (TrustStoreException)
            {
                return 0; // already trusted
            }
            var after = store.List();
            Check(after.Count == peers.Count && after.Zip(peers).All(x => x.First.PeerId == x.Second.PeerId && x.First.Name == x.Second.Name), "add + remove changed the other entries");
            return 0;
        });
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var file = new TrustFile(1,
        [
            new TrustedPeer("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", "laptop", ["/ip4/192.0.2.10/tcp/9000"], DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)),
            new TrustedPeer("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", null, [], DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)),
        ]);
        yield return ("two-peers", JsonSerializer.SerializeToUtf8Bytes(file, TrustJsonContext.Default.TrustFile));
        yield return ("empty", "{\"version\":1,\"peers\":[]}"u8.ToArray());
        yield return ("null-entry", "{\"version\":1,\"peers\":[null]}"u8.ToArray());
        yield return ("null-addr", "{\"version\":1,\"peers\":[{\"peerId\":\"12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq\",\"name\":null,\"addrs\":[null],\"addedAt\":\"2024-01-01T00:00:00Z\"}]}"u8.ToArray());
        yield return ("version-2", "{\"version\":2,\"peers\":[]}"u8.ToArray());
    }
}

/// <summary>
/// Provider deployment records (<c>provider/deployments/&lt;id&gt;.json</c>): <c>DeploymentStore.LoadAllAsync</c>
/// either returns a record the runtime can use (every required field present) or sets the file aside as corrupt
/// and names it; it never throws for a bad file. Input: the content of <c>fuzz.json</c>.
/// </summary>
public sealed class DeploymentRecordTarget : FuzzTarget
{
    public override string Name => "deployment-record";
    public override string Description => "DeploymentStore.LoadAllAsync over a provider state record";

    public override void Run(ReadOnlySpan<byte> input)
    {
        string folder = Scratch.Folder("provider");
        var store = new DeploymentStore(folder);
        store.EnsureFolders();
        foreach (string stale in Directory.EnumerateFiles(Path.Combine(folder, "deployments")))
            File.Delete(stale);
        File.WriteAllBytes(Path.Combine(folder, "deployments", "fuzz.json"), input.ToArray());
        var problems = new List<string>();
        var records = Await(ct => store.LoadAllAsync(problems, ct));
        Check(records.Count + problems.Count == 1, $"{records.Count} records and {problems.Count} problems from one file");
        foreach (var r in records)
        {
            Check(r.Id == "fuzz" && r.Owner is not null && r.SpecHash is not null && r.Spec is not null, "a loaded record lacks a required field");
            var spec = r.Spec!;
            Check(spec.Name is not null && spec.Image is not null && spec.Environment is not null, "a loaded spec lacks a required field");
            // What the runtime reads off a record when it starts.
            _ = r.HoldsCapacity ? spec.CpuMillicores + spec.MemoryBytes : 0;
            _ = r.ContainerName;
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var record = new DeploymentRecord
        {
            Id = "fuzz",
            Owner = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
            Spec = new DeploymentSpec { Name = "web", Image = "busybox:latest", ContainerPort = 8080, CpuMillicores = 250, MemoryBytes = 64L << 20, Command = ["sh"], Environment = new Dictionary<string, string> { ["A"] = "1" } },
            SpecHash = "abc",
            CreatedAt = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
            Phase = RecordPhase.Active,
            ContainerId = "c0ffee",
            UpdatedAt = DateTimeOffset.FromUnixTimeSeconds(1_700_000_100),
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(record, RuntimeJsonContext.Default.DeploymentRecord);
        yield return ("active", json);
        string text = Encoding.UTF8.GetString(json);
        yield return ("null-spec", Encoding.UTF8.GetBytes(System.Text.RegularExpressions.Regex.Replace(text, "\"spec\": \\{[^}]*\\}[^}]*\\}", "\"spec\": null")));
        yield return ("wrong-id", Encoding.UTF8.GetBytes(text.Replace("\"fuzz\"", "\"other\"")));
        yield return ("not-json", "{\"id\":"u8.ToArray());
    }
}

/// <summary>
/// The provider's record of privately pulled images (<c>provider/image-grants.json</c>): <c>ImageGrantStore.LoadAsync</c>
/// either loads it or sets it aside as corrupt and names it; it never throws for a bad file. Input: the file's content.
/// </summary>
public sealed class ImageGrantsTarget : FuzzTarget
{
    public override string Name => "image-grants";
    public override string Description => "ImageGrantStore.LoadAsync (provider/image-grants.json)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        string folder = Scratch.Folder("grants");
        var store = new ImageGrantStore(folder);
        File.Delete(store.FilePath + ".corrupt");
        File.WriteAllBytes(store.FilePath, input.ToArray());
        var problems = new List<string>();
        Await(async ct =>
        {
            await store.LoadAsync(problems, ct);
            return 0;
        });
        bool setAside = File.Exists(store.FilePath + ".corrupt");
        Check(setAside == (problems.Count == 1) && problems.Count <= 1, $"{problems.Count} problems, set aside: {setAside}");
        // What a deploy asks of it.
        _ = store.MayUse("sha256:x", "12D3KooWOwner");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("one", "{\"restricted\":{\"sha256:x\":[\"12D3KooWOwner\",\"12D3KooWOther\"]}}"u8.ToArray());
        yield return ("empty", "{\"restricted\":{}}"u8.ToArray());
        yield return ("null-owners", "{\"restricted\":{\"sha256:x\":null}}"u8.ToArray());
        yield return ("null-owner", "{\"restricted\":{\"sha256:x\":[null]}}"u8.ToArray());
        yield return ("missing", "{}"u8.ToArray());
        yield return ("not-json", "{\"restricted\":"u8.ToArray());
    }
}

/// <summary>
/// <c>peercomputed.json</c> (ProviderConfig, from src/PeerCompute.Provider): a bad file is refused
/// with ConfigException only; an accepted one gives limits in range. Input: the file's content.
/// </summary>
public sealed class ProviderConfigTarget : FuzzTarget
{
    public override string Name => "provider-config";
    public override string Description => "ProviderConfig.Load (peercomputed.json)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        string path = Path.Combine(Scratch.Folder("config"), ProviderConfig.FileName);
        File.WriteAllBytes(path, input.ToArray());
        ProviderConfig config;
        try
        {
            config = ProviderConfig.Load(path, required: true);
        }
        catch (ConfigException)
        {
            return;
        }
        Check(config.Port is > 0 and <= 65535 && config.MaxCpuMillicores > 0 && config.MaxMemoryBytes > 0 && config.MaxDeploys > 0, "a limit out of range was accepted");
        Check(config.MaxConnections > 0 && config.MaxUntrustedConnections > 0 && config.MaxUntrustedConnectionsPerAddress > 0
            && config.MaxHandshakes > 0 && config.MaxHandshakesPerAddress > 0 && config.MaxUntrustedPeers > 0
            && config.HandshakeTimeoutSeconds is > 0 and <= ProviderConfig.MaxTimeoutSeconds
            && config.UntrustedIdleTimeoutSeconds is > 0 and <= ProviderConfig.MaxTimeoutSeconds, "a connection limit out of range was accepted");
        Check(config.LogFormat is "text" or "json", "an unknown log format was accepted");
        Check(config.Listen is not null && config.EffectiveListen.Count > 0, "no listen address");
        Check(config.AllowRegistry.All(r => PeerCompute.Runtime.Images.RegistryNames.TryNormalize(r, out string? same) && same == r), "an allowed registry is not a normalized HOST[:PORT]");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("full", """
            {
              // comments and trailing commas are allowed
              "port": 9100,
              "listen": ["/ip4/127.0.0.1/tcp/9100"],
              "max-cpu": "2000m",
              "max-memory": "2Gi",
              "max-deploys": 5,
              "gateway": "gw.example:8443",
              "gateway-pin": "sha256//AAAA",
              "no-mdns": true,
              "log-format": "json",
            }
            """u8.ToArray());
        yield return ("egress", "{\"egress\":\"open\",\"allow-egress\":[\"192.168.1.0/24\",\"10.0.0.1\",\"fd00::/8\"]}"u8.ToArray());
        yield return ("egress-bad", "{\"egress\":\"filtered\",\"allow-egress\":[\"192.168.1.0/33\",null]}"u8.ToArray());
        yield return ("registries", "{\"allow-registry\":[\"127.0.0.1:5000\",\"Registry.LAN\",\"[::1]:5000\",\"http://x\",null]}"u8.ToArray());
        yield return ("empty", "{}"u8.ToArray());
        yield return ("null", "null"u8.ToArray());
        yield return ("null-listen", "{\"listen\":null}"u8.ToArray());
        yield return ("unknown-key", "{\"prot\":1}"u8.ToArray());
        yield return ("bad-memory", "{\"max-memory\":\"-5\"}"u8.ToArray());
    }
}

/// <summary>
/// The gateway's <c>gateway/hostnames.json</c> (which provider owns which hostname tag): a bad file is refused with
/// <see cref="TunnelException"/> (kind State) only. Input: the file's content.
/// </summary>
public sealed class GatewayBindingsTarget : FuzzTarget
{
    public override string Name => "gateway-bindings";
    public override string Description => "HostnameBindings.Load (gateway hostnames.json)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        string folder = Scratch.Folder("gateway");
        File.WriteAllBytes(Path.Combine(folder, HostnameBindings.FileName), input.ToArray());
        HostnameBindings bindings;
        try
        {
            bindings = HostnameBindings.Load(folder);
        }
        catch (TunnelException e)
        {
            Check(e.Kind == TunnelErrorKind.State, $"refused with kind {e.Kind}");
            return;
        }
        _ = bindings.Count;
        _ = bindings.OwnerOf("abcdefghijkl");
        _ = bindings.WasServed("abcdefghijkl", "web-abcdefghijkl");
        bindings.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("one", """
            {"version":1,"tags":{"abcdefghijkl":{"peerId":"12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq","routes":["web-abcdefghijkl"],"firstSeen":"2024-01-01T00:00:00Z","lastSeen":"2024-01-02T00:00:00Z"}}}
            """u8.ToArray());
        yield return ("null-routes", """{"version":1,"tags":{"abcdefghijkl":{"peerId":"12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq","routes":null,"firstSeen":"2024-01-01T00:00:00Z","lastSeen":"2024-01-02T00:00:00Z"}}}"""u8.ToArray());
        yield return ("empty", "{}"u8.ToArray());
        yield return ("null-entry", "{\"version\":1,\"tags\":{\"x\":null}}"u8.ToArray());
    }
}

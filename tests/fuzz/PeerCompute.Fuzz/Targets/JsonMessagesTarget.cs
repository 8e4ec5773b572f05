using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The JSON contracts of <see cref="ProtocolJsonContext"/>: reading a payload gives a message or a
/// <see cref="FrameException"/>; a message read re-serialises to JSON that reads back to the same JSON; no
/// non-nullable field comes back null. Signed requests then go through <see cref="RequestGuard"/> with the
/// signature frame that follows, which must answer (null or an error), never throw.
/// Input: byte 0 = message type (mod 11), then the JSON payload; for requests, a 0xFF byte may separate the
/// request JSON from a RequestSignature JSON.
/// </summary>
public sealed class JsonMessagesTarget : FuzzTarget
{
    private static readonly PeerIdentity Signer = PeerIdentity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    public override string Name => "json";
    public override string Description => "ProtocolJsonContext messages, request signatures, RequestGuard";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        // 0-10: the frame types 1-11 (the seeds' first bytes); 11 and 12: the volume pair, numbered 30 and 31; 13: the domain request (32).
        int pick = input[0] % 14;
        var type = pick switch { 11 => FrameType.VolumeRequest, 12 => FrameType.VolumeResponse, 13 => FrameType.DomainRequest, _ => (FrameType)(1 + pick) };
        var rest = input[1..];
        int sep = rest.IndexOf((byte)0xFF);
        var json = sep < 0 ? rest : rest[..sep];
        var signatureJson = sep < 0 ? [] : rest[(sep + 1)..];
        switch (type)
        {
            case FrameType.DeployRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.DeployRequest, r =>
                {
                    Check(r.Image is not null && r.Nonce is not null, "DeployRequest with a null required field");
                    // Null env values and command elements are let through here: DeploymentSpecValidator refuses them.
                    Check(r.Registry is null || (r.Registry.Username is not null && r.Registry.Password is not null), "registry credentials with a null field");
                });
                break;
            case FrameType.StopRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.StopRequest, r => Check(r.Deployment is not null && r.Nonce is not null, "StopRequest with a null field"));
                break;
            case FrameType.StatusRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.StatusRequest, r => Check(r.Nonce is not null, "StatusRequest with a null nonce"));
                break;
            case FrameType.LogsRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.LogsRequest, r => Check(r.Deployment is not null && r.Nonce is not null, "LogsRequest with a null field"));
                break;
            case FrameType.DeployResponse:
                RoundTrip(json, ProtocolJsonContext.Default.DeployResponse, r => Check(r.Id is not null && r.Name is not null && r.Provider is not null && r.State is not null, "DeployResponse with a null field"));
                break;
            case FrameType.StopResponse:
                RoundTrip(json, ProtocolJsonContext.Default.StopResponse, r => Check(r.Id is not null && r.Name is not null && r.State is not null, "StopResponse with a null field"));
                break;
            case FrameType.StatusResponse:
                RoundTrip(json, ProtocolJsonContext.Default.StatusResponse, r =>
                {
                    Check(r.Provider is not null && r.Deployments is not null, "StatusResponse with a null field");
                    foreach (var d in r.Deployments!)
                        Check(d is not null && d.Id is not null && d.Name is not null && d.Image is not null && d.State is not null, "a null deployment or field in StatusResponse");
                });
                break;
            case FrameType.LogEntry:
                RoundTrip(json, ProtocolJsonContext.Default.LogEntry, r => Check(r.Stream is not null && r.Text is not null, "LogEntry with a null field"));
                break;
            case FrameType.Error:
                RoundTrip(json, ProtocolJsonContext.Default.ErrorResponse, r => Check(r.Code is not null && r.Message is not null, "ErrorResponse with a null field"));
                break;
            case FrameType.DeployProgress:
                RoundTrip(json, ProtocolJsonContext.Default.DeployProgress, r => Check(r.Status is not null, "DeployProgress with a null status"));
                break;
            case FrameType.VolumeRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.VolumeRequest, r => Check(r.Action is not null && r.Nonce is not null, "VolumeRequest with a null field"));
                break;
            case FrameType.DomainRequest:
                Signed(type, json, signatureJson, ProtocolJsonContext.Default.DomainRequest, r => Check(r.Action is not null && r.Nonce is not null && r.Deployment is not null, "DomainRequest with a null field"));
                break;
            case FrameType.VolumeResponse:
                RoundTrip(json, ProtocolJsonContext.Default.VolumeResponse, r =>
                {
                    Check(r.Provider is not null && r.Volumes is not null, "VolumeResponse with a null field");
                    foreach (var v in r.Volumes!)
                        Check(v is not null && v.Name is not null && v.UsedBy is not null, "a null volume or field in VolumeResponse");
                });
                break;
            case FrameType.RequestSignature:
                RoundTrip(json, ProtocolJsonContext.Default.RequestSignature, r => Check(r.Signer is not null && r.Signature is not null, "RequestSignature with a null field"));
                break;
        }
    }

    /// <summary>Reads <paramref name="json"/>; null when it is refused with a FrameException (the contract).</summary>
    private static T? RoundTrip<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> info, Action<T> invariants) where T : class
    {
        T value;
        try
        {
            value = FrameCodec.Deserialize(json, info);
        }
        catch (FrameException e)
        {
            Check(e.Code == ErrorCodes.MalformedFrame, $"unexpected error code {e.Code}");
            return null;
        }
        invariants(value);
        byte[] once = JsonSerializer.SerializeToUtf8Bytes(value, info);
        T again;
        try
        {
            again = FrameCodec.Deserialize<T>(once, info);
        }
        catch (FrameException e)
        {
            Fail($"our own serialisation of a {typeof(T).Name} does not read back: {e.Message}\n{Encoding.UTF8.GetString(once)}");
            return null;
        }
        byte[] twice = JsonSerializer.SerializeToUtf8Bytes(again, info);
        Check(once.AsSpan().SequenceEqual(twice), $"{typeof(T).Name} round trip changed the JSON:\n{Encoding.UTF8.GetString(once)}\n{Encoding.UTF8.GetString(twice)}");
        return value;
    }

    private static void Signed<T>(FrameType type, ReadOnlySpan<byte> json, ReadOnlySpan<byte> signatureJson, JsonTypeInfo<T> info, Action<T> invariants)
        where T : class, ISignedRequest
    {
        var request = RoundTrip(json, info, invariants);
        if (request is null)
            return;
        // The frame exactly as it would arrive, and the signature frame's content (fuzzed, or a real one).
        byte[] frame = [(byte)type, 0, 0, 0, 0, .. json];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)json.Length);
        RequestSignature? signature = signatureJson.IsEmpty
            ? RequestSigning.Sign(Signer, frame)
            : RoundTrip(signatureJson, ProtocolJsonContext.Default.RequestSignature, s => Check(s.Signer is not null && s.Signature is not null, "RequestSignature with a null field"));
        var guard = new RequestGuard(_ => true, clock: new FixedClock(Now));
        var answer = guard.Check(Signer.PeerId, frame, request, signature);
        if (answer is not null)
            Check(answer.Code is not null && answer.Message is not null, "a refusal without code or message");
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        static byte[] J<T>(T value, JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(value, info);
        long ts = Now.ToUnixTimeMilliseconds();
        var ctx = ProtocolJsonContext.Default;
        var deploy = J(new DeployRequest("busybox:latest", ts, "AAAAAAAAAAAAAAAAAAAAAA==", "web", 250, 64L << 20, 8080,
            new Dictionary<string, string> { ["A"] = "1" }, ["sh", "-c", "echo hi"], false, new RegistryCredentials("u", "p", "registry.example")), ctx.DeployRequest);
        byte[] deployFrame = [1, 0, 0, 0, 0, .. deploy];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(deployFrame.AsSpan(1), (uint)deploy.Length);
        var signature = J(RequestSigning.Sign(Signer, deployFrame), ctx.RequestSignature);
        yield return ("deploy", [0, .. deploy]);
        yield return ("deploy-signed", [0, .. deploy, 0xFF, .. signature]);
        yield return ("deploy-null-env-value", [0, .. Encoding.UTF8.GetBytes("{\"image\":\"a\",\"timestamp\":" + ts + ",\"nonce\":\"n\",\"env\":{\"A\":null}}")]);
        yield return ("stop", [2, .. J(new StopRequest("web", ts, "BBBBBBBBBBBBBBBBBBBBBA=="), ctx.StopRequest)]);
        yield return ("status", [5, .. J(new StatusRequest(ts, "CCCCCCCCCCCCCCCCCCCCCA==", "web"), ctx.StatusRequest)]);
        yield return ("logs", [7, .. J(new LogsRequest("web", ts, "DDDDDDDDDDDDDDDDDDDDDA==", 10, true, Now), ctx.LogsRequest)]);
        yield return ("deploy-response", [1, .. J(new DeployResponse("d1", "web", "12D3KooW", "running", "http://127.0.0.1:1234/", null, 250, 1024), ctx.DeployResponse)]);
        yield return ("stop-response", [3, .. J(new StopResponse("d1", "web", "stopped"), ctx.StopResponse)]);
        yield return ("status-response", [6, .. J(new StatusResponse("p", [new DeploymentInfo("d1", "web", "busybox", "running", 250, 1024, Now, LastLogLines: ["x"])], new CapacityInfo(4000, 1L << 32, 10, 250, 1024, 1)), ctx.StatusResponse)]);
        yield return ("log-entry", [4, .. J(new LogEntry("stdout", Now, "hello"), ctx.LogEntry)]);
        yield return ("error", [8, .. J(new ErrorResponse("not_found", "gone"), ctx.ErrorResponse)]);
        yield return ("progress", [9, .. J(new DeployProgress("Downloading", "abc", 1, 2), ctx.DeployProgress)]);
        yield return ("signature", [10, .. signature]);
        yield return ("malformed", [0, .. "{\"image\":"u8.ToArray()]);
        yield return ("domain-add", [13, .. J(new DomainRequest(DomainRequest.Add, ts, "EEEEEEEEEEEEEEEEEEEEEA==", "web", "www.example.org"), ctx.DomainRequest)]);
        yield return ("status-domains", [6, .. J(new StatusResponse("p", [new DeploymentInfo("d1", "web", "busybox", "running", 250, 1024, Now,
            Domains: [new DomainInfo("www.example.org", "serving", "served", "gw.example.org:8443", Now, null)])], null), ctx.StatusResponse)]);
    }
}
